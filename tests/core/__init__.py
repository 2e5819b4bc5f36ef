"""The pure modules beneath the flow: secrets and tokens, addresses, password rules and
strength, questions, the codec, the lockout and rate-limit rules, texts and translations."""
