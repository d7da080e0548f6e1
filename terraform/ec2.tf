# The Prefect host: Prefect server (UI/API on 127.0.0.1:4200, reached through SSM port forwarding) and a
# process worker for the `lakehouse-aws` pool, which runs the flows against the S3 lake with the instance
# role's credentials. Private subnet, no public IP, no key pair, no inbound rule: access is SSM only.

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

locals {
  lakehouse_env = templatefile("${path.module}/templates/lakehouse.env", {
    lakehouse_root = local.lakehouse_root
    aws_region     = var.aws_region
    prefect_port   = local.prefect_port
  })

  user_data = templatefile("${path.module}/templates/bootstrap.sh", {
    uv_version    = var.uv_version
    lakehouse_env = local.lakehouse_env
    update_script = templatefile("${path.module}/templates/lakehouse-update.sh", {
      artifacts_bucket = aws_s3_bucket.data["artifacts"].id
      bundle_key       = var.bundle_key
      repository_url   = var.repository_url
      repository_ref   = var.repository_ref
      work_pool_name   = var.work_pool_name
      prefect_port     = local.prefect_port
    })
    server_unit = templatefile("${path.module}/templates/prefect-server.service", {
      prefect_port = local.prefect_port
    })
    worker_unit = templatefile("${path.module}/templates/prefect-worker.service", {
      work_pool_name = var.work_pool_name
    })
  })
}

resource "aws_instance" "prefect" {
  ami                    = data.aws_ssm_parameter.al2023.value
  instance_type          = var.instance_type
  subnet_id              = aws_subnet.private[0].id
  vpc_security_group_ids = [aws_security_group.prefect.id]
  iam_instance_profile   = aws_iam_instance_profile.prefect_host.name

  associate_public_ip_address = false
  monitoring                  = true
  ebs_optimized               = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    kms_key_id            = aws_kms_key.main.arn
    delete_on_termination = true
  }

  # First-boot bootstrap (cloud-init runs it once): changing it replaces the host. Lake data is in S3 and the
  # deploy workflow reinstalls the flows; only the Prefect server's run history on the root volume is lost.
  user_data                   = local.user_data
  user_data_replace_on_change = true

  tags = { Name = "${local.name}-prefect" }

  lifecycle {
    # A new Amazon Linux release must not replace the host on every plan; roll it deliberately with
    # `terraform apply -replace=aws_instance.prefect`.
    ignore_changes = [ami]
  }

  # Bootstrap installs packages on first boot: the endpoints (and NAT, if any) must be ready.
  depends_on = [
    aws_vpc_endpoint.s3,
    aws_vpc_endpoint.interface,
    aws_route.private_nat,
    aws_route_table_association.private,
    aws_iam_role_policy.prefect_host,
    aws_iam_role_policy_attachment.prefect_host_ssm,
  ]
}
