"""Rules: the evaluation of a service's dated CEL rules into a Decision (evaluate.py)."""
