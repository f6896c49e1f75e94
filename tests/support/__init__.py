"""Helpers the tests share: fakes of nothing, builders of real objects, fixed paths."""
