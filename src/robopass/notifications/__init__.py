"""Webhook subscriptions and the transactional notification outbox (SPEC §9)."""
