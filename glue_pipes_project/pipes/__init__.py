"""The run hop: the Glue Pipes client, its live message readers, the CloudWatch tail and call budget, and run costs."""
