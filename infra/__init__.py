"""Infrastructure: Bicep templates, and (scripts/) the rollout team's helpers."""
