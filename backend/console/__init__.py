"""The owning department's side of the platform: worklist, case file, actions, automation
switch and QA sampling (issue 6). Plain service functions; HTML and JSON edges call them."""
