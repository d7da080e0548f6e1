variable "aws_region" {
  description = "AWS region of every resource, e.g. eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }
}

variable "project" {
  description = "Short project name: prefix of every resource name and of the bucket names."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.project))
    error_message = "project must be 3-20 characters of lower-case letters, digits and hyphens (it is part of S3 bucket names)."
  }
}

variable "environment" {
  description = "Environment name (dev, staging or prod); part of resource names, so several can share an account."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "tags" {
  description = "Extra tags on every resource (the provider's default_tags add Project, Environment, ManagedBy)."
  type        = map(string)
  default     = {}
}

# --- network -------------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC; a /16 to /24. Private (and, with NAT, public) subnets are carved from it."
  type        = string
  default     = "10.40.0.0/20"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && can(regex("/(1[6-9]|2[0-4])$", var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block between /16 and /24, e.g. 10.40.0.0/20."
  }
}

variable "availability_zones" {
  description = "Availability zones of the private subnets (1-3; the host runs in the first, the SSM endpoints span all). Named explicitly so a new zone in the region never changes the plan."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 1 && length(var.availability_zones) <= 3 && alltrue([for az in var.availability_zones : startswith(az, var.aws_region)])
    error_message = "availability_zones must list 1-3 zones of aws_region, e.g. [\"eu-west-1a\", \"eu-west-1b\"]."
  }
}

variable "enable_nat_gateway" {
  description = <<-EOT
    Create a public subnet with a NAT gateway so the private host reaches the internet (HTTPS only: its security
    group allows egress to 443). SSM, S3 and the Amazon Linux package repositories work without it (VPC
    endpoints), but `make install` downloads uv and the locked Python packages from PyPI: keep it on unless a
    PyPI mirror is reachable from the VPC.
  EOT
  type        = bool
  default     = true
}

# --- Prefect host --------------------------------------------------------------------------------------------

variable "instance_type" {
  description = "EC2 instance type of the Prefect host (server + process worker + the flows). 2 vCPU / 8 GiB suits the demo."
  type        = string
  default     = "t3.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like an EC2 instance type, e.g. t3.large or m7i.xlarge."
  }
}

variable "root_volume_size_gb" {
  description = "Size of the host's encrypted gp3 root volume in GiB (code, virtualenv, Prefect database, uv cache)."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_size_gb >= 20 && var.root_volume_size_gb <= 1000
    error_message = "root_volume_size_gb must be between 20 and 1000."
  }
}

variable "work_pool_name" {
  description = "Prefect process work pool served by the host's worker; prefect.yaml's deployments target it."
  type        = string
  default     = "lakehouse-aws"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.work_pool_name))
    error_message = "work_pool_name must be lower-case letters, digits and hyphens."
  }
}

variable "uv_version" {
  description = "uv version installed on the host (the same as the Makefile's UV_VERSION)."
  type        = string
  default     = "0.13.9"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.uv_version))
    error_message = "uv_version must be a version such as 0.13.9."
  }
}

variable "repository_url" {
  description = <<-EOT
    Optional public HTTPS git URL of the project. On first boot, when the artifacts bucket holds no bundle yet,
    the host clones it (at repository_ref) instead. Empty: wait for the deploy workflow to upload a bundle.
  EOT
  type        = string
  default     = ""

  validation {
    condition     = var.repository_url == "" || can(regex("^https://[^\\s'\"]+$", var.repository_url))
    error_message = "repository_url must be empty or an https:// URL."
  }
}

variable "repository_ref" {
  description = "Branch or tag to clone when repository_url is used."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.repository_ref))
    error_message = "repository_ref must be a branch or tag name."
  }
}

variable "bundle_key" {
  description = "Key of the project bundle (a gzipped git archive) in the artifacts bucket that the host installs."
  type        = string
  default     = "bundles/lakehouse.tar.gz"

  validation {
    condition     = can(regex("^bundles/[A-Za-z0-9._/-]+\\.tar\\.gz$", var.bundle_key))
    error_message = "bundle_key must be a .tar.gz key under bundles/."
  }
}

# --- lake ----------------------------------------------------------------------------------------------------

variable "lake_prefix" {
  description = "Prefix of the lake inside the lake bucket: LAKEHOUSE_ROOT is s3://<lake bucket>/<lake_prefix>."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.lake_prefix))
    error_message = "lake_prefix must be one path segment of lower-case letters, digits, '_' and '-'."
  }
}

variable "landing_expiration_days" {
  description = "Days after which files in the landing/ zone expire (they are loaded into raw/ Delta tables nightly)."
  type        = number
  default     = 30

  validation {
    condition     = var.landing_expiration_days >= 1
    error_message = "landing_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions expire in every bucket (recovery window for overwrites and deletes)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days to keep S3 server access logs in the logs bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group in days (a CloudWatch Logs retention value, at least 365)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value of at least one year (365, 400, 545, 731, ...)."
  }
}

# --- GitHub Actions deploy -----------------------------------------------------------------------------------

variable "github_repository" {
  description = "GitHub repository (owner/name) whose Actions may assume the deploy role through OIDC."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, e.g. my-org/lakehouse."
  }
}

variable "github_branch" {
  description = "Branch whose workflow runs may assume the deploy role (token subject repo:<repo>:ref:refs/heads/<branch>)."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.github_branch))
    error_message = "github_branch must be a branch name."
  }
}

variable "github_environment" {
  description = "GitHub environment whose jobs may assume the deploy role (token subject repo:<repo>:environment:<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.github_environment))
    error_message = "github_environment must be a GitHub environment name."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider. Set false when it already exists (one per account, e.g. for the second environment)."
  type        = bool
  default     = true
}

variable "state_bucket_name" {
  description = "S3 bucket holding the Terraform state, which the deploy role reads and writes. Empty: <project>-tfstate-<account id>."
  type        = string
  default     = ""

  validation {
    condition     = var.state_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be empty or a valid S3 bucket name."
  }
}
