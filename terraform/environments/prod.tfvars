# terraform apply -var-file=environments/prod.tfvars  (state: backend.hcl with key lakehouse/prod/terraform.tfstate)
aws_region  = "eu-west-1"
environment = "prod"

github_repository           = "your-org/lakehouse" # owner/name of your fork
github_branch               = "main"
github_environment          = "prod"
create_github_oidc_provider = false # one provider per account: dev created it (set true in a separate prod account)

availability_zones  = ["eu-west-1a", "eu-west-1b"]
vpc_cidr            = "10.41.0.0/20"
enable_nat_gateway  = true
instance_type       = "m7i.large"
root_volume_size_gb = 50

landing_expiration_days            = 30
noncurrent_version_expiration_days = 30
access_log_retention_days          = 365
flow_log_retention_days            = 365
