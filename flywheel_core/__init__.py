"""Flywheel Studio's core: loop maps, interaction data, model versions, curves and storage."""
