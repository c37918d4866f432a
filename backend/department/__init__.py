"""The owning department: who its clerks are and what they may do, which cases are its own,
and the automation switch it controls (issue 18).

Below the case workflow and the console, so the engine can ask whether the department paused
automation, and notices can name the clerk who signed, without importing the console.
"""
