# terraform apply -var-file=environments/dev.tfvars   (state: backend.hcl with key lakehouse/dev/terraform.tfstate)
aws_region  = "eu-west-1"
environment = "dev"

github_repository           = "your-org/lakehouse" # owner/name of your fork
github_branch               = "main"
github_environment          = "dev"
create_github_oidc_provider = true # false if the account already has token.actions.githubusercontent.com

availability_zones  = ["eu-west-1a", "eu-west-1b"]
vpc_cidr            = "10.40.0.0/20"
enable_nat_gateway  = true # PyPI for `make install`; see network.tf
instance_type       = "t3.large"
root_volume_size_gb = 30

landing_expiration_days            = 30
noncurrent_version_expiration_days = 14
access_log_retention_days          = 90
flow_log_retention_days            = 365
