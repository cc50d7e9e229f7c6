"""The service's routes, by job: chat turns, sessions, the OpenAI APIs, operations."""
