"""The deploy hop: jobs.yaml -> content-addressed artifacts in S3 -> Glue job definitions -> plan and apply."""
