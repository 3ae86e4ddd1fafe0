# One Meridian region on AWS: an Auto Scaling group of `meridian proxy`
# instances behind a network load balancer whose static Elastic IPs (one per
# subnet) are the region's proxy addresses in DNS answers; plus the region's
# policy (regions/<region>, pools/<region>/<pool>) as JSON.
#
# With proxy_addresses set, no AWS resource is created and only the policy
# is rendered.

locals {
  create = length(var.proxy_addresses) == 0
  name   = "meridian-${var.region}"
  # Load balancer and target group names: at most 32 characters.
  lb_name = trimsuffix(substr(local.name, 0, 32), "-")

  subnets = local.create ? toset(var.subnet_ids) : toset([])

  proxies = local.create ? [for s in var.subnet_ids : aws_eip.proxy[s].public_ip] : var.proxy_addresses

  # --- Policy ---

  # Drop unset (null) fields: meridian decodes strictly, and leaving a
  # field out means "the default" (docs/keyspace.md).
  region_value = { for k, v in {
    location  = var.location
    country   = var.country
    continent = var.continent
    proxies   = local.proxies
    http_port = var.http_port
    check     = var.check == null ? null : { for ck, cv in var.check : ck => cv if cv != null }
    disabled  = var.disabled ? true : null
  } : k => v if v != null }

  pool_values = { for name, p in var.pools : "pools/${var.region}/${name}" => { for k, v in {
    hosts            = p.hosts
    backends         = [for b in p.backends : { for bk, bv in b : bk => bv if bv != null }]
    balancer         = p.balancer
    check            = p.check == null ? null : { for ck, cv in p.check : ck => cv if cv != null }
    retries          = p.retries
    connect_timeout  = p.connect_timeout
    response_timeout = p.response_timeout
    spillover        = p.spillover
  } : k => v if v != null } }

  policy      = merge({ "regions/${var.region}" = local.region_value }, local.pool_values)
  policy_json = jsonencode(local.policy)

  # --- Instances ---

  # The proxies listen on the admin port on every interface because the
  # load balancer health-checks /readyz there; the security group admits
  # only the subnets (where the load balancer's nodes live) and admin_cidrs.
  admin_listen = "0.0.0.0:${var.admin_port}"

  key_parameter      = "/meridian/${var.region}/proxy/etcd-client-key"
  password_parameter = "/meridian/${var.region}/proxy/etcd-password"

  ssm_get = "aws ssm get-parameter --region ${data.aws_region.current.region} --with-decryption --query Parameter.Value --output text --name"
  secret_files = merge(
    { "/etc/meridian/etcd/client-key.pem" = "${local.ssm_get} '${local.key_parameter}'" },
    var.etcd_user == null ? {} : { "/etc/meridian/etcd/password" = "${local.ssm_get} '${local.password_parameter}'" },
  )

  # Each proxy advertises the Elastic IP of its own availability zone.
  # Cross-zone load balancing is off, so that address reaches exactly the
  # proxies that advertise it, and their heartbeats speak for it.
  advertise_command = join("\n", concat(
    [
      "t=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)",
      "az=$(curl -fsS -H \"X-aws-ec2-metadata-token: $t\" http://169.254.169.254/latest/meta-data/placement/availability-zone)",
      "case \"$az\" in",
    ],
    [for s in var.subnet_ids : "${data.aws_subnet.proxy[s].availability_zone}) echo ${aws_eip.proxy[s].public_ip} ;;" if local.create],
    [
      "*) echo \"no Elastic IP for availability zone $az\" >&2; exit 1 ;;",
      "esac",
    ],
  ))
}

data "aws_region" "current" {}

data "aws_subnet" "proxy" {
  for_each = local.subnets
  id       = each.value
}

data "aws_ami" "debian" {
  count       = local.create && var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["136693411437"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-${var.architecture}-*"]
  }
  filter {
    name   = "architecture"
    values = [var.architecture == "amd64" ? "x86_64" : "arm64"]
  }
  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

# --- Addresses and load balancer ---

resource "aws_eip" "proxy" {
  for_each = local.subnets
  domain   = "vpc"
  tags     = merge(var.tags, { Name = "${local.name}-${each.value}", "meridian:region" = var.region })
}

resource "aws_lb" "proxy" {
  count              = local.create ? 1 : 0
  name               = local.lb_name
  load_balancer_type = "network"
  internal           = false
  # Off on purpose: each Elastic IP must reach only the proxies of its zone,
  # which are the ones that advertise it (see advertise_command).
  enable_cross_zone_load_balancing = false

  dynamic "subnet_mapping" {
    for_each = aws_eip.proxy
    content {
      subnet_id     = subnet_mapping.key
      allocation_id = subnet_mapping.value.id
    }
  }

  tags = merge(var.tags, { Name = local.name, "meridian:region" = var.region })
}

resource "aws_lb_target_group" "proxy" {
  count       = local.create ? 1 : 0
  name        = local.lb_name
  port        = var.http_port
  protocol    = "TCP"
  target_type = "instance"
  vpc_id      = var.vpc_id
  # The proxies see the client's address (X-Forwarded-For, geo decisions
  # of backends), so they need port http_port open to the world.
  preserve_client_ip = "true"
  # A proxy drains itself (DNS first) on SIGTERM; the load balancer only
  # has to stop new flows and let the open ones finish.
  deregistration_delay   = 60
  connection_termination = true

  health_check {
    protocol            = "HTTP"
    port                = tostring(var.admin_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(var.tags, { "meridian:region" = var.region })
}

resource "aws_lb_listener" "http" {
  count             = local.create ? 1 : 0
  load_balancer_arn = aws_lb.proxy[0].arn
  port              = var.http_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.proxy[0].arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count             = local.create && var.tls_certificate_arn != null ? 1 : 0
  load_balancer_arn = aws_lb.proxy[0].arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.tls_certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.proxy[0].arn
  }

  tags = var.tags
}

# --- Security group ---

resource "aws_security_group" "proxy" {
  count       = local.create ? 1 : 0
  name_prefix = "${local.name}-proxy-"
  description = "meridian proxy, region ${var.region}: HTTP from anywhere, admin port from the subnets and admin_cidrs"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${local.name}-proxy" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  count             = local.create ? 1 : 0
  security_group_id = aws_security_group.proxy[0].id
  description       = "HTTP from clients (the load balancer preserves their addresses)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = var.http_port
  to_port           = var.http_port
}

resource "aws_vpc_security_group_ingress_rule" "admin" {
  # The subnets, for the load balancer's health checks, and admin_cidrs.
  # Keyed by position: a key must be known when planning.
  for_each          = { for i, c in distinct(concat([for s in var.subnet_ids : data.aws_subnet.proxy[s].cidr_block if local.create], local.create ? var.admin_cidrs : [])) : tostring(i) => c }
  security_group_id = aws_security_group.proxy[0].id
  description       = "meridian admin (/metrics, /readyz)"
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
  ip_protocol       = "tcp"
  from_port         = var.admin_port
  to_port           = var.admin_port
}

resource "aws_vpc_security_group_egress_rule" "all_ipv4" {
  count             = local.create ? 1 : 0
  security_group_id = aws_security_group.proxy[0].id
  description       = "backends, other regions' proxies, etcd, SSM, package mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_egress_rule" "all_ipv6" {
  count             = local.create ? 1 : 0
  security_group_id = aws_security_group.proxy[0].id
  description       = "backends, other regions' proxies, etcd, SSM, package mirrors"
  cidr_ipv6         = "::/0"
  ip_protocol       = "-1"
}

# --- Secrets: SSM SecureStrings that only the proxies' role can read ---

resource "aws_ssm_parameter" "etcd_client_key" {
  count       = local.create ? 1 : 0
  name        = local.key_parameter
  description = "etcd client key of meridian proxy, region ${var.region}"
  type        = "SecureString"
  value       = var.etcd_client_key_pem
  tags        = var.tags
}

resource "aws_ssm_parameter" "etcd_password" {
  count       = local.create && var.etcd_user != null ? 1 : 0
  name        = local.password_parameter
  description = "etcd password of meridian proxy, region ${var.region}"
  type        = "SecureString"
  value       = var.etcd_password
  tags        = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "proxy" {
  count              = local.create ? 1 : 0
  name_prefix        = "meridian-proxy-"
  description        = "meridian proxy, region ${var.region}: reads its etcd secrets"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "secrets" {
  count = local.create ? 1 : 0
  name  = "meridian-secrets"
  role  = aws_iam_role.proxy[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = concat(aws_ssm_parameter.etcd_client_key[*].arn, aws_ssm_parameter.etcd_password[*].arn)
    }]
  })
}

resource "aws_iam_instance_profile" "proxy" {
  count       = local.create ? 1 : 0
  name_prefix = "meridian-proxy-"
  role        = aws_iam_role.proxy[0].name
  tags        = var.tags
}

# --- Instances ---

module "cloud_init" {
  source = "../meridian-cloud-init"
  count  = local.create ? 1 : 0

  service = "proxy"
  args = concat(
    [
      "--region", var.region,
      "--listen", ":${var.http_port}",
      "--admin", local.admin_listen,
      "--log-format", "json",
    ],
    var.extra_args,
  )
  binary_url           = var.meridian_binary_url
  binary_sha256        = var.meridian_binary_sha256
  etcd_endpoints       = var.etcd_endpoints
  etcd_ca_pem          = var.etcd_ca_pem
  etcd_client_cert_pem = var.etcd_client_cert_pem
  etcd_user            = var.etcd_user
  secret_files         = local.secret_files
  environment_commands = { MERIDIAN_ADVERTISE = local.advertise_command }
  packages             = ["awscli"]
  stop_timeout         = var.stop_timeout
}

resource "aws_launch_template" "proxy" {
  count                  = local.create ? 1 : 0
  name_prefix            = "${local.name}-proxy-"
  description            = "meridian proxy, region ${var.region}"
  image_id               = coalesce(var.ami_id, try(data.aws_ami.debian[0].id, null))
  instance_type          = var.instance_type
  user_data              = module.cloud_init[0].user_data_base64
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.proxy[0].arn
  }

  network_interfaces {
    associate_public_ip_address = var.assign_public_ip
    security_groups             = [aws_security_group.proxy[0].id]
    delete_on_termination       = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${local.name}-proxy", "meridian:region" = var.region, "meridian:role" = "proxy" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${local.name}-proxy", "meridian:region" = var.region })
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "proxy" {
  count               = local.create ? 1 : 0
  name_prefix         = "${local.name}-proxy-"
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.instance_count
  desired_capacity    = var.instance_count
  # Room to launch replacements before terminating (instance_refresh).
  max_size                  = 2 * var.instance_count
  target_group_arns         = [aws_lb_target_group.proxy[0].arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300

  launch_template {
    id      = aws_launch_template.proxy[0].id
    version = aws_launch_template.proxy[0].latest_version
  }

  # A new launch template version (new binary, AMI or certificates) rolls
  # the group, launching each replacement before terminating an old proxy.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 200
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { "meridian:region" = var.region })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

# --- Optional: write the policy to etcd from the machine running terraform ---

resource "terraform_data" "apply_policy" {
  count            = var.apply_policy ? 1 : 0
  triggers_replace = local.policy_json

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      f=$(mktemp)
      trap 'rm -f "$f"' EXIT
      printf '%s\n' "$POLICY_FILE_JSON" >"$f"
      ${var.meridian_cli} policy apply "$f"
    EOT
    environment = merge(var.policy_apply_environment, { POLICY_FILE_JSON = local.policy_json })
  }
}
