# --- Prefect host instance role -------------------------------------------------------------------------------
# Least privilege: read/write objects only under the lake's zone prefixes, read the project bundles, use the
# stack's KMS key, and be an SSM managed instance (Session Manager, Run Command).

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "prefect_host" {
  name               = "${local.name}-prefect-host"
  description        = "Prefect server + worker host: lake zones read/write, bundles read, SSM"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "prefect_host" {
  name = "${local.name}-prefect-host"
  role = aws_iam_role.prefect_host.name
}

resource "aws_iam_role_policy_attachment" "prefect_host_ssm" {
  role       = aws_iam_role.prefect_host.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "prefect_host" {
  statement {
    sid       = "LocateBuckets"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.data["lake"].arn, aws_s3_bucket.data["artifacts"].arn]
  }

  statement {
    sid       = "ListLakeZones"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data["lake"].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat(["${var.lake_prefix}/"], flatten([for z in local.lake_zones : ["${var.lake_prefix}/${z}", "${var.lake_prefix}/${z}/*"]]))
    }
  }

  # Delta tables need get, put (conditional put for commits) and delete (vacuum, overwrite) on their objects.
  statement {
    sid = "ReadWriteLakeZones"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for z in local.lake_zones : "${aws_s3_bucket.data["lake"].arn}/${var.lake_prefix}/${z}/*"]
  }

  statement {
    sid       = "ListBundles"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data["artifacts"].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["bundles/*"]
    }
  }

  statement {
    sid       = "ReadBundles"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["artifacts"].arn}/bundles/*"]
  }

  statement {
    sid       = "UseStackKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "prefect_host" {
  name   = "lake-and-bundles"
  role   = aws_iam_role.prefect_host.id
  policy = data.aws_iam_policy_document.prefect_host.json
}

# --- VPC flow logs delivery role ------------------------------------------------------------------------------

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-vpc-flow-logs"
  description        = "Delivers VPC flow logs to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

# --- GitHub Actions: OIDC provider and deploy role --------------------------------------------------------------
# The deploy workflow (.github/workflows/deploy.yml) assumes this role with the job's OIDC token, runs
# `terraform plan/apply` on this stack, uploads the project bundle and tells the host to install it via SSM.
# Running Terraform on a stack that creates a VPC, an instance and IAM roles is broad by nature: the policy
# scopes to this stack's named resources (buckets, key, roles/profiles/policies with the stack's name prefix,
# log groups, the instance) wherever the service supports resource-level permissions, and limits the rest
# (EC2/VPC creation, which mostly cannot be scoped before the resources exist) to the stack's region.
# Only workflow runs of github_repository on github_branch or in github_environment can assume it.

locals {
  github_oidc_url = "https://token.actions.githubusercontent.com"
  github_oidc_provider_arn = (var.create_github_oidc_provider
    ? aws_iam_openid_connect_provider.github[0].arn
    : data.aws_iam_openid_connect_provider.github[0].arn
  )
  iam_name_prefix = "arn:${local.partition}:iam::${local.account_id}"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = local.github_oidc_url
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 0 : 1

  url = local.github_oidc_url
}

data "aws_iam_policy_document" "github_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/${var.github_branch}",
        "repo:${var.github_repository}:environment:${var.github_environment}",
      ]
    }
  }
}

resource "aws_iam_role" "github_deploy" {
  name                 = "${local.name}-github-deploy"
  description          = "GitHub Actions deploy of ${var.github_repository}: terraform apply of this stack, bundle upload, SSM deploy"
  assume_role_policy   = data.aws_iam_policy_document.github_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "github_deploy" {
  #checkov:skip=CKV_AWS_356:Terraform creates the stack's VPC, subnets, endpoints, security groups and instance: EC2 create actions cannot name resources that do not exist yet, and kms:CreateKey / Describe / List calls take no resource. These statements are limited to the stack's region (aws:RequestedRegion); everything else is scoped to named resources.

  # State (S3-native locking writes a .tflock object next to the state).
  statement {
    sid       = "TerraformState"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:${local.partition}:s3:::${local.state_bucket_name}", "arn:${local.partition}:s3:::${local.state_bucket_name}/*"]
  }

  # The stack's three buckets (configuration for terraform, objects for the bundle upload).
  statement {
    sid     = "StackBuckets"
    actions = ["s3:*"]
    resources = flatten([for name in [local.lake_bucket_name, local.artifacts_bucket_name, local.logs_bucket_name] : [
      "arn:${local.partition}:s3:::${name}",
      "arn:${local.partition}:s3:::${name}/*",
    ]])
  }

  statement {
    sid     = "StackKey"
    actions = ["kms:*"]
    resources = [
      aws_kms_key.main.arn,
      "arn:${local.partition}:kms:${var.aws_region}:${local.account_id}:alias/${local.name}",
    ]
  }

  statement {
    sid       = "CreateAndListKeys"
    actions   = ["kms:CreateKey", "kms:ListAliases", "kms:ListKeys"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.aws_region]
    }
  }

  statement {
    sid     = "StackIam"
    actions = ["iam:*"]
    resources = [
      "${local.iam_name_prefix}:role/${local.name}-*",
      "${local.iam_name_prefix}:instance-profile/${local.name}-*",
      "${local.iam_name_prefix}:policy/${local.name}-*",
      "${local.iam_name_prefix}:oidc-provider/token.actions.githubusercontent.com",
    ]
  }

  statement {
    sid       = "ReadAwsManagedPolicies"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = ["arn:${local.partition}:iam::aws:policy/*"]
  }

  # VPC, subnets, routes, NAT, endpoints, security groups, flow logs, the instance and its volume.
  statement {
    sid       = "StackNetworkAndInstance"
    actions   = ["ec2:*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.aws_region]
    }
  }

  statement {
    sid       = "StackLogGroups"
    actions   = ["logs:*"]
    resources = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/${var.project}/${var.environment}/*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups", "logs:ListTagsForResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.aws_region]
    }
  }

  statement {
    sid       = "ReadAmiParameter"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${var.aws_region}::parameter/aws/service/ami-amazon-linux-latest/*"]
  }

  # Deploy step: run a shell script on the Prefect host only.
  statement {
    sid     = "DeployViaSsm"
    actions = ["ssm:SendCommand"]
    resources = [
      aws_instance.prefect.arn,
      "arn:${local.partition}:ssm:${var.aws_region}::document/AWS-RunShellScript",
    ]
  }

  statement {
    sid       = "FollowSsmCommands"
    actions   = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands", "ssm:DescribeInstanceInformation"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.aws_region]
    }
  }
}

resource "aws_iam_role_policy" "github_deploy" {
  name   = "terraform-and-deploy"
  role   = aws_iam_role.github_deploy.id
  policy = data.aws_iam_policy_document.github_deploy.json
}
