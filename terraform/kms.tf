# One customer-managed key for the stack: the lake and artifacts buckets, the host's root volume and the VPC
# flow log group. (The access-logs bucket uses SSE-S3: S3 server access logging cannot write to SSE-KMS.)

resource "aws_kms_key" "main" {
  description             = "${local.name}: lake and artifacts buckets, EBS root volume, flow logs"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:This is a KMS key policy, not an identity policy: "*" as resource means this key only, and kms:* goes to the account root so IAM policies can delegate (AWS's default key policy).
  #checkov:skip=CKV_AWS_111:KMS key policy: "*" as resource means this key only; write actions go to the account root (delegated via IAM) and the CloudWatch Logs service for the flow log group.
  #checkov:skip=CKV_AWS_356:KMS key policy: "*" as resource is the required form and means this key only.
  # The account administers the key through IAM: IAM policies (the instance role, the deploy role) then grant
  # narrower use of it. Without this statement the key could become unmanageable.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsFlowLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.aws_region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/${var.project}/${var.environment}/*"]
    }
  }
}
