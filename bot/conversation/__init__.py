"""One contact's conversation: state, the pure engine, matching, rendering and the service."""
