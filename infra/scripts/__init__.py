"""Scripts a rollout team runs around a deployment (see infra/README.md)."""
