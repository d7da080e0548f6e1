# Read by the deploy workflow (terraform output -raw <name>) and by people operating the stack.

output "aws_region" {
  description = "Region of the stack."
  value       = var.aws_region
}

output "prefect_instance_id" {
  description = "Instance id of the Prefect host (SSM target)."
  value       = aws_instance.prefect.id
}

output "lake_bucket_name" {
  description = "Bucket of the lake."
  value       = aws_s3_bucket.data["lake"].id
}

output "lakehouse_root" {
  description = "LAKEHOUSE_ROOT of the stack: s3://<lake bucket>/<lake_prefix>."
  value       = local.lakehouse_root
}

output "artifacts_bucket_name" {
  description = "Bucket of the project bundles the host installs."
  value       = aws_s3_bucket.data["artifacts"].id
}

output "bundle_s3_uri" {
  description = "Default bundle location: upload `git archive --format=tar.gz HEAD` here, then run `sudo lakehouse-update` on the host."
  value       = "s3://${aws_s3_bucket.data["artifacts"].id}/${var.bundle_key}"
}

output "access_logs_bucket_name" {
  description = "Bucket of the S3 server access logs."
  value       = aws_s3_bucket.logs.id
}

output "kms_key_arn" {
  description = "Customer-managed KMS key of the buckets, the root volume and the flow logs."
  value       = aws_kms_key.main.arn
}

output "github_deploy_role_arn" {
  description = "Role for GitHub Actions OIDC: set it as the repository variable AWS_DEPLOY_ROLE_ARN."
  value       = aws_iam_role.github_deploy.arn
}

output "ssm_port_forward_command" {
  description = "Forward the Prefect UI/API to http://localhost:4200 through SSM (no SSH, no open port)."
  value       = "aws ssm start-session --target ${aws_instance.prefect.id} --document-name AWS-StartPortForwardingSession --parameters '{\"portNumber\":[\"${local.prefect_port}\"],\"localPortNumber\":[\"${local.prefect_port}\"]}' --region ${var.aws_region}"
}

output "ssm_shell_command" {
  description = "Shell on the Prefect host through SSM Session Manager."
  value       = "aws ssm start-session --target ${aws_instance.prefect.id} --region ${var.aws_region}"
}
