"""The steps of a deployment, each a small module over the narrow protocol it declares:
fetch, validate, plan (with the host check), backup, upload, activate, health,
compensate, and the commit status. ``hearth_deployer.workflows.deployment`` calls them in order;
no step imports the workflow or a step that calls it."""
