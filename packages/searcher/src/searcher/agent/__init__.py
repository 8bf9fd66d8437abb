"""The agent: the O² protocol, the policy wrapper, batched rollouts, the search environment and
the rewards."""
