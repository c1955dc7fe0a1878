"""Inference and scoring: predictors, dataset prediction, J&F metrics, in-training validation,
export."""
