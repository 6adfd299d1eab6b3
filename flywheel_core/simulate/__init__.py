"""The stock-and-flow flywheel simulator, its scenario presets and sensitivity analysis."""
