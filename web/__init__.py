"""The reviewers' workspace (web application): `callqa serve`. Top layer below `demo/` and the command line;
it imports pipeline, reports, infra and core, and nothing but those two imports it."""
