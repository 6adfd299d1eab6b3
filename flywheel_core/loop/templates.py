"""Loop-map templates for the seed cases, each telling the story its seed tells.

- spotify: true compounding; network learning over 600M+ listeners; skips, saves, the 30-second rule.
- tesla: collection strong (2M+ cars, fleet trigger), curation the weak point (human labelers): a
  feedback loop that "failed to become self-reinforcing".
- duolingo: network learning (Birdbrain updates difficulty for all learners), a flywheel; 14 ms sessions.
- klarna: optimised routine queries, then plateaued and rebalanced toward human agents.
- harvey: expert-seeded cold start, targeting complex work at elite firms.
- perplexity: each query improves answers for future queries; commoditized models the risk.
- netflix: velocity, under 15 minutes from change to production with automated canaries.
- note-taking: individual learning; "that's a product, not a flywheel".

The JSON forms here are read through :meth:`flywheel_core.loop.model.LoopMap.from_json` (so they are checked).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEMPLATE_JSON"]


def _c(
    description: str, system: str, owner: str, automated: str, latency: float, health: int, evidence: str
) -> dict[str, Any]:
    return {
        "description": description,
        "system": system,
        "owner": owner,
        "automated": automated,
        "latency_hours": latency,
        "health": health,
        "evidence": evidence,
    }


def _s(
    name: str, kind: str, polarity: str, weight: float, volume: float | None, bias: str = "", rule: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "polarity": polarity,
        "weight": weight,
        "volume_per_day": volume,
        "known_bias": bias,
        "rule": rule,
    }


def _r(risk: str, likelihood: str, impact: str, mitigation: str = "") -> dict[str, Any]:
    return {"risk": risk, "likelihood": likelihood, "impact": impact, "mitigation": mitigation}


def _cold(**used: str) -> dict[str, Any]:
    return {key: {"used": True, "notes": notes} for key, notes in used.items()}


def _map(name: str, product: str, components: dict[str, Any], signals: list[Any], network: tuple[str, str, str],
         cold: dict[str, Any], risks: list[Any], velocity: tuple[float | None, float | None]) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "product": product,
        "components": components,
        "signals": signals,
        "network_learning": {"answer": network[0], "why": network[1], "headroom": network[2]},
        "cold_start": cold,
        "risks": risks,
        "velocity": {"event_to_production_hours": velocity[0], "deploys_per_week": velocity[1]},
    }


SPOTIFY = _map(
    "Spotify — music recommendations",
    "Discover Weekly and home-screen recommendations",
    {
        "collection": _c(
            "Every stream, skip, save and playlist add from 600M+ monthly listeners",
            "Client event logging",
            "Platform",
            "yes",
            0.1,
            5,
            "1.4 trillion events a day from 678 million users",
        ),
        "storage": _c(
            "One event platform every team reads from",
            "Shared event lake",
            "Data platform",
            "yes",
            1,
            4,
            "100 billion streams a year queryable by all teams",
        ),
        "analysis": _c(
            "Collaborative filtering plus audio analysis; experiments on every surface",
            "Training pipelines and A/B platform",
            "ML and insights",
            "yes",
            12,
            5,
            "520 experiments a year on the mobile home screen alone",
        ),
        "application": _c(
            "Discover Weekly refreshed every week from the new models",
            "Recommendation serving",
            "Personalization",
            "yes",
            168,
            4,
            "Multi-task models: podcast improvements lift music discovery",
        ),
        "feedback": _c(
            "Listening after each recommendation flows back as new events",
            "Same event logging",
            "Personalization",
            "yes",
            0.5,
            5,
            "AI-engaged users: 40% higher retention, 140 vs 99 minutes a day",
        ),
    },
    [
        _s(
            "stream",
            "implicit",
            "positive",
            1.0,
            270_000_000,
            "Counted for royalties at 30 s, slightly noisy as a quality signal",
            "a stream under 30 s counts as a skip",
        ),
        _s("skip", "implicit", "negative", 1.0, 150_000_000, "Skips also reflect mood and context, not only taste"),
        _s("save", "explicit", "positive", 3.0, 20_000_000, "Only songs people love strongly get saved"),
        _s("playlist_add", "explicit", "positive", 3.0, 10_000_000),
        _s("completion_rate", "implicit", "positive", 1.5, 270_000_000, "Intermediate signal"),
    ],
    ("yes", "Listeners who like similar music improve each other's recommendations (collaborative filtering)", "grows"),
    _cold(
        content_based="Editorial playlists and Fresh Finds use audio similarity for new artists with no listening data"
    ),
    [
        _r("distribution_shift", "medium", "high", "Retrain weekly; watch discovery habits shifted by TikTok"),
        _r("data_poisoning", "medium", "medium", "Detect bot streams and play farms before training"),
        _r("wrong_incentives", "low", "high", "Optimise long-term retention, not raw streams"),
    ],
    (24, 50),
)

TESLA = _map(
    "Tesla — Autopilot fleet learning",
    "Autopilot / Full Self-Driving",
    {
        "collection": _c(
            "Every car records sensor data; the fleet trigger flags moments the onboard model was unsure",
            "Fleet trigger, Autopilot Snapshot",
            "Autopilot data",
            "yes",
            24,
            5,
            "2M+ vehicles on the road by 2023, each a data collection node",
        ),
        "storage": _c(
            "Snapshot clips uploaded and indexed by scenario",
            "Clip store",
            "Data infrastructure",
            "yes",
            24,
            4,
            "One edge-case configuration seen by hundreds of cars in different cities",
        ),
        "analysis": _c(
            "Curation and labelling: human labelers review each flagged clip and give the ground truth",
            "Annotation team and tools",
            "Labeling",
            "no",
            336,
            2,
            'FSD "hasn\'t improved all year" on 2025 data: collection without curation is noise',
        ),
        "application": _c(
            "Networks retrained on labelled clips and pushed over the air",
            "Training cluster, OTA updates",
            "Autopilot",
            "partly",
            720,
            3,
            "Over-the-air releases to the fleet",
        ),
        "feedback": _c(
            "Disengagements and interventions after each release flow back to the fleet trigger",
            "Telemetry",
            "Autopilot",
            "yes",
            168,
            3,
            "Interventions per mile by release",
        ),
    },
    [
        _s("uncertain_moment", "implicit", "neutral", 1.0, 1_000_000, "Only what the trigger is built to catch"),
        _s("driver_intervention", "implicit", "negative", 3.0, 200_000, "Drivers also intervene out of caution"),
        _s("label", "explicit", "neutral", 5.0, 50_000, "Labeler disagreement on ambiguous scenes"),
    ],
    ("yes", "An edge case one car meets teaches every car in the fleet", "grows"),
    _cold(target_complexity="The trigger targets rare edge cases rather than more ordinary miles"),
    [
        _r("data_without_curation", "high", "high"),
        _r("distribution_shift", "medium", "high", "New regions and road layouts reach the trigger first"),
        _r("privacy_deletion", "medium", "medium", "Drivers can opt out of recording"),
    ],
    (1272, 1),
)

DUOLINGO = _map(
    "Duolingo — Birdbrain learning loop",
    "Lesson personalisation",
    {
        "collection": _c(
            "Every answer, right or wrong, with response time",
            "Lesson event logging",
            "Learning platform",
            "yes",
            0.01,
            5,
            "34M daily users answering exercises",
        ),
        "storage": _c(
            "Answer history shared by the learner model and the session generator",
            "Learner data store",
            "Data platform",
            "yes",
            0.05,
            4,
            "One history of every learner's answers",
        ),
        "analysis": _c(
            "Birdbrain estimates the probability each learner answers each exercise correctly",
            "Birdbrain",
            "AI research",
            "yes",
            0.5,
            5,
            "Difficulty estimates update in real time for all learners",
        ),
        "application": _c(
            "The session generator picks the next exercises from Birdbrain's estimates",
            "Session Generator",
            "Learning engineering",
            "yes",
            0.01,
            5,
            "Rewritten from 750 ms to 14 ms: real-time personalisation",
        ),
        "feedback": _c(
            "The next answers show whether the chosen exercises were right for the learner",
            "Same lesson logging",
            "Learning science",
            "yes",
            0.1,
            4,
            "Retention and lesson completion tracked per change",
        ),
    },
    [
        _s("answer_correct", "implicit", "positive", 1.0, 500_000_000),
        _s("answer_wrong", "implicit", "negative", 1.0, 200_000_000, "Typos count as mistakes"),
        _s("lesson_complete", "implicit", "positive", 2.0, 50_000_000),
        _s("report_problem", "explicit", "negative", 3.0, 50_000, "Only frustrated learners report"),
    ],
    (
        "yes",
        "When many learners struggle with Spanish preterite vs imperfect, difficulty updates for all current and future learners",
        "grows",
    ),
    _cold(loop_before_data="Internal and early learners' answers calibrate new courses"),
    [_r("wrong_incentives", "medium", "high", "Optimise learning outcomes, not streaks alone")],
    (1, 20),
)

KLARNA = _map(
    "Klarna — AI customer-service assistant",
    "Customer-service assistant",
    {
        "collection": _c(
            "Every chat with the assistant and its outcome",
            "Chat logging",
            "Customer service",
            "yes",
            0.1,
            4,
            "2.3 million conversations in month one",
        ),
        "storage": _c(
            "Conversation transcripts with resolution status",
            "Support data warehouse",
            "Data platform",
            "yes",
            24,
            4,
            "One transcript store",
        ),
        "analysis": _c(
            "Intent and resolution analysis of routine queries",
            "Analytics and fine-tuning",
            "AI team",
            "yes",
            168,
            4,
            "80%+ of routine inquiries handled by Q1 2025",
        ),
        "application": _c(
            "The assistant answers routine queries; complex and emotional cases go back to human agents",
            "Assistant plus agent handover",
            "Customer service",
            "partly",
            168,
            3,
            "Klarna began rebalancing toward human agents",
        ),
        "feedback": _c(
            "Resolution time, satisfaction and escalations flow back",
            "Support metrics",
            "Customer service",
            "yes",
            24,
            3,
            "Resolution time from 11 minutes to under 2",
        ),
    },
    [
        _s("resolved", "implicit", "positive", 1.0, 70_000, "Closing a chat is not always solving it"),
        _s("escalated", "implicit", "negative", 2.0, 10_000),
        _s("satisfaction_rating", "explicit", "neutral", 2.0, 5_000, "Ratings cluster at the extremes"),
    ],
    (
        "no",
        "Routine intents are learnt from the first weeks of chats; one more customer's data changes nothing for others",
        "saturates",
    ),
    _cold(loop_before_data="Launched on historical transcripts and routine intents"),
    [
        _r("commoditized_models", "high", "medium", "Differentiate on service integration, not the model"),
        _r("wrong_incentives", "medium", "high"),
        _r("privacy_deletion", "medium", "medium", "Transcripts kept under GDPR retention rules"),
    ],
    (400, 2),
)

HARVEY = _map(
    "Harvey — legal AI",
    "Legal drafting and research assistant",
    {
        "collection": _c(
            "Lawyers' prompts, edits of drafts and accepted workflow steps",
            "Product logging",
            "Product",
            "yes",
            0.5,
            4,
            "Elite firms' complex matters: international mergers",
        ),
        "storage": _c(
            "Per-firm workspaces plus de-identified workflow data",
            "Segregated storage",
            "Platform",
            "yes",
            24,
            4,
            "Client confidentiality kept per firm",
        ),
        "analysis": _c(
            "Lawyers in-house turn usage into step-by-step workflows and evaluations",
            "Workflow design and evals",
            "Legal research team",
            "partly",
            168,
            3,
            "Process data for complex legal work doesn't exist online",
        ),
        "application": _c(
            "New workflows and model updates shipped to firms",
            "Releases",
            "Engineering",
            "yes",
            168,
            4,
            "Allen & Overy: 3,500 attorneys",
        ),
        "feedback": _c(
            "Lawyers' edits and acceptance of drafts after each release",
            "Product analytics",
            "Product",
            "yes",
            24,
            3,
            "Edits vs verbatim acceptance",
        ),
    },
    [
        _s("draft_accepted", "implicit", "positive", 2.0, 50_000),
        _s("draft_edited", "implicit", "negative", 1.0, 80_000, "Lawyers edit for style as well as substance"),
        _s("thumbs", "explicit", "neutral", 2.0, 2_000, "Explicit ratings only at the extremes"),
    ],
    ("yes", "Workflows defined for one firm's complex matters improve drafts for every firm", "grows"),
    _cold(
        expert_seeding="Founders hired lawyers from major firms to define step-by-step workflows",
        target_complexity="Elite law firms first: complex work generates more valuable training data",
    ),
    [
        _r("privacy_deletion", "high", "high", "Per-firm isolation; no client data crosses firms"),
        _r("commoditized_models", "high", "medium", "The moat is expert workflows, not the base model"),
    ],
    (360, 3),
)

PERPLEXITY = _map(
    "Perplexity — answer engine",
    "Search answers",
    {
        "collection": _c(
            "Every query, follow-up, source click and copy",
            "Query logging",
            "Search",
            "yes",
            0.01,
            5,
            "1.4B queries by June 2025 (780M in May 2025)",
        ),
        "storage": _c(
            "Query and citation logs shared by ranking and answer teams",
            "Search data lake",
            "Data platform",
            "yes",
            1,
            4,
            "One store for ranking and answers",
        ),
        "analysis": _c(
            "Retrieval and ranking learnt from which sources answered which questions",
            "Ranking training",
            "Search quality",
            "yes",
            24,
            4,
            "Each query improves answer accuracy for future queries",
        ),
        "application": _c(
            "Updated ranking and answer models deployed",
            "Continuous deployment",
            "Search",
            "yes",
            24,
            4,
            "Frequent releases",
        ),
        "feedback": _c(
            "Follow-ups, source clicks and return visits show whether answers worked",
            "Engagement analytics",
            "Growth",
            "yes",
            1,
            5,
            "DAU/MAU of 53%",
        ),
    },
    [
        _s("follow_up", "implicit", "neutral", 1.0, 20_000_000, "Follow-ups mean curiosity or a poor answer"),
        _s("source_click", "implicit", "positive", 1.0, 15_000_000),
        _s("thumbs_down", "explicit", "negative", 3.0, 100_000, "Only bad answers get rated"),
        _s("return_visit", "implicit", "positive", 2.0, 10_000_000),
    ],
    ("yes", "Each query improves answer accuracy for future queries from everyone", "grows"),
    _cold(loop_before_data="Launched on third-party models and web search, logging from day one"),
    [
        _r("commoditized_models", "high", "high", "Own the query-to-source data; models are swappable"),
        _r("synthetic_data_competition", "medium", "medium"),
        _r("model_collapse", "medium", "high", "Filter AI-generated pages from sources"),
    ],
    (48, 30),
)

NETFLIX = _map(
    "Netflix — deployment velocity",
    "Streaming experience",
    {
        "collection": _c(
            "Playback and browse events streamed in real time",
            "Event pipeline",
            "Data engineering",
            "yes",
            0.01,
            5,
            "Every play, pause and browse logged",
        ),
        "storage": _c(
            "One streaming data platform every team reads",
            "Data platform",
            "Data engineering",
            "yes",
            0.02,
            4,
            "Shared real-time tables",
        ),
        "analysis": _c(
            "Automated canary analysis compares each change against the baseline",
            "Canary analysis",
            "Delivery engineering",
            "yes",
            0.08,
            5,
            "Automated rollback on regression",
        ),
        "application": _c(
            "Changes deployed through automated canary rollouts",
            "Continuous delivery",
            "Delivery engineering",
            "yes",
            0.1,
            5,
            "4,000+ daily deployments; deploys in under 15 minutes",
        ),
        "feedback": _c(
            "Live metrics of each canary decide promotion or rollback",
            "Telemetry",
            "Delivery engineering",
            "yes",
            0.02,
            5,
            "Canary scores feed the next release",
        ),
    },
    [
        _s("play_start", "implicit", "positive", 1.0, 200_000_000),
        _s(
            "abandon_within_2_min",
            "implicit",
            "negative",
            1.0,
            30_000_000,
            rule="a play under 2 minutes counts as an abandon",
        ),
        _s("thumbs", "explicit", "neutral", 2.0, 1_000_000, "Ratings cluster at the extremes"),
    ],
    ("yes", "Viewing patterns of similar members improve everyone's rows", "grows"),
    _cold(content_based="Metadata and editorial rows for new titles"),
    [_r("distribution_shift", "medium", "medium", "Continuous retraining and canaries")],
    (0.25, 28_000),
)

NOTE_TAKING = _map(
    "Note-taking app — personal suggestions",
    "Notes with personal suggestions",
    {
        "collection": _c(
            "Each user's notes and the suggestions they accept",
            "App logging",
            "Product",
            "yes",
            0.01,
            4,
            "Per-user events",
        ),
        "storage": _c(
            "Each user's own notebook", "Per-user database", "Platform", "yes", 0.01, 4, "Data stays per user"
        ),
        "analysis": _c(
            "A per-user index of topics and phrases", "On-device indexing", "Product", "yes", 1, 3, "Per-user model"
        ),
        "application": _c(
            "Suggestions and search tuned to the user's own notes",
            "Suggestion engine",
            "Product",
            "yes",
            1,
            3,
            "Autocomplete from your notes",
        ),
        "feedback": _c(
            "Accepted or dismissed suggestions", "App logging", "Product", "yes", 0.1, 3, "Acceptance rate per user"
        ),
    },
    [
        _s("suggestion_accepted", "implicit", "positive", 1.0, 100_000),
        _s("suggestion_dismissed", "implicit", "negative", 1.0, 300_000),
    ],
    ("no", "Your notes help you; deleting one user's notes changes nothing for anyone else", "saturates"),
    {},
    [
        _r("commoditized_models", "high", "high"),
        _r("privacy_deletion", "medium", "medium", "Notes deletable by the user"),
    ],
    (2, 5),
)

TEMPLATE_JSON: dict[str, dict[str, Any]] = {
    "spotify": SPOTIFY,
    "tesla": TESLA,
    "duolingo": DUOLINGO,
    "klarna": KLARNA,
    "harvey": HARVEY,
    "perplexity": PERPLEXITY,
    "netflix": NETFLIX,
    "note-taking": NOTE_TAKING,
}
