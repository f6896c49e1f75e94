"""Organizer updates to subscribers: service, preview, pacing, runner, outcomes, workers."""
