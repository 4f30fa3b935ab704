"""Where CI reads a token: GitHub Actions secrets, GitLab CI variables (see base.py)."""
