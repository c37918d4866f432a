"""The case record every domain refers to: the tables of applications and cases, the
hash-chained case log and the decision facts kept beside it (issue 18).

Below every domain service (notices, payments, notifications, hand-over, uploads, cases), so
each can read a case and append to its log without importing the case workflow above it.
"""
