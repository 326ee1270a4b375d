"""Alerts that reach a person: what to say (rules over the warehouse and the registry) and how
to deliver it (a Slack-compatible webhook, SMTP email)."""
