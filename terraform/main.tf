# Shared names and facts. The resources live in kms.tf, s3.tf, network.tf, iam.tf and ec2.tf.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Bucket names are global: the account id keeps them unique without guessing.
  lake_bucket_name      = "${local.name}-lake-${local.account_id}"
  artifacts_bucket_name = "${local.name}-artifacts-${local.account_id}"
  logs_bucket_name      = "${local.name}-access-logs-${local.account_id}"
  state_bucket_name     = var.state_bucket_name != "" ? var.state_bucket_name : "${var.project}-tfstate-${local.account_id}"

  # Zones of the lake under s3://<lake bucket>/<lake_prefix>/ (see lakehouse/settings.py and ARCHITECTURE.md).
  lake_zones     = ["landing", "raw", "analytics", "features", "quality", "ops", "quarantine"]
  lakehouse_root = "s3://${local.lake_bucket_name}/${var.lake_prefix}"

  prefect_port = 4200
}
