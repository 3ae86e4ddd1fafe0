# Authoritative DNS servers for the zones in etcd, in one AWS region: one
# instance per name in var.nameservers, each behind its own static Elastic
# IP (the address the parent zone's glue points at), running `meridian dns`.
# Port 53 is open to the world; meridian dns answers only for its zones
# (REFUSED otherwise), so this is not an open resolver.

locals {
  servers = { for i, n in var.nameservers : trimsuffix(lower(n), ".") => {
    index     = i
    subnet_id = var.subnet_ids[i % length(var.subnet_ids)]
  } }

  # Without admin_cidrs nothing outside the host needs the admin server.
  admin_listen = length(var.admin_cidrs) > 0 ? "0.0.0.0:${var.admin_port}" : "127.0.0.1:${var.admin_port}"

  geoip = var.geoip_account_id != null
  mmdb  = "/var/lib/meridian/${var.geoip_edition}.mmdb"

  parameter_prefix = "/meridian/dns/${var.name}"
  ssm_get          = "aws ssm get-parameter --region ${data.aws_region.current.region} --with-decryption --query Parameter.Value --output text --name"
  secret_files = merge(
    { "/etc/meridian/etcd/client-key.pem" = "${local.ssm_get} '${local.parameter_prefix}/etcd-client-key'" },
    var.etcd_user == null ? {} : { "/etc/meridian/etcd/password" = "${local.ssm_get} '${local.parameter_prefix}/etcd-password'" },
    local.geoip ? { "/etc/meridian/geoip/license-key" = "${local.ssm_get} '${local.parameter_prefix}/geoip-license-key'" } : {},
  )

  geoip_files = local.geoip ? [
    {
      path        = "/usr/local/lib/meridian/geoip-update.sh"
      permissions = "0755"
      content = templatefile("${path.module}/geoip-update.sh.tftpl", {
        account_id       = var.geoip_account_id
        license_key_file = "/etc/meridian/geoip/license-key"
        edition          = var.geoip_edition
        mmdb             = local.mmdb
      })
    },
    {
      path        = "/etc/systemd/system/meridian-geoip-update.service"
      permissions = "0644"
      content     = <<-EOT
        [Unit]
        Description=Refresh the GeoIP database of meridian dns
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=oneshot
        ExecStart=/usr/local/lib/meridian/geoip-update.sh
      EOT
    },
    {
      path        = "/etc/systemd/system/meridian-geoip-update.timer"
      permissions = "0644"
      content     = <<-EOT
        [Unit]
        Description=Weekly refresh of the GeoIP database of meridian dns

        [Timer]
        OnCalendar=weekly
        # Spread the restarts: the servers of a zone must not all restart together.
        RandomizedDelaySec=3d
        Persistent=true

        [Install]
        WantedBy=timers.target
      EOT
    },
  ] : []
}

data "aws_region" "current" {}

data "aws_ami" "debian" {
  count       = var.ami_id == null ? 1 : 0
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

# --- Security group ---

resource "aws_security_group" "dns" {
  name_prefix = "meridian-dns-${var.name}-"
  description = "meridian dns ${var.name}: DNS from anywhere, admin port from admin_cidrs"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "meridian-dns-${var.name}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "dns" {
  for_each = { for r in setproduct(["udp", "tcp"], concat(["0.0.0.0/0"], var.enable_ipv6 ? ["::/0"] : [])) : "${r[0]}-${r[1]}" => {
    protocol = r[0]
    cidr     = r[1]
  } }
  security_group_id = aws_security_group.dns.id
  description       = "DNS (${each.value.protocol})"
  cidr_ipv4         = strcontains(each.value.cidr, ":") ? null : each.value.cidr
  cidr_ipv6         = strcontains(each.value.cidr, ":") ? each.value.cidr : null
  ip_protocol       = each.value.protocol
  from_port         = 53
  to_port           = 53
}

resource "aws_vpc_security_group_ingress_rule" "admin" {
  for_each          = toset(var.admin_cidrs)
  security_group_id = aws_security_group.dns.id
  description       = "meridian dns admin (/metrics, /readyz)"
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
  ip_protocol       = "tcp"
  from_port         = var.admin_port
  to_port           = var.admin_port
}

resource "aws_vpc_security_group_egress_rule" "all_ipv4" {
  security_group_id = aws_security_group.dns.id
  description       = "etcd, SSM, MaxMind, package mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_egress_rule" "all_ipv6" {
  count             = var.enable_ipv6 ? 1 : 0
  security_group_id = aws_security_group.dns.id
  description       = "etcd, SSM, MaxMind, package mirrors"
  cidr_ipv6         = "::/0"
  ip_protocol       = "-1"
}

# --- Secrets: SSM SecureStrings that only the servers' role can read ---

resource "aws_ssm_parameter" "etcd_client_key" {
  name        = "${local.parameter_prefix}/etcd-client-key"
  description = "etcd client key of meridian dns ${var.name}"
  type        = "SecureString"
  value       = var.etcd_client_key_pem
  tags        = var.tags
}

resource "aws_ssm_parameter" "etcd_password" {
  count       = var.etcd_user != null ? 1 : 0
  name        = "${local.parameter_prefix}/etcd-password"
  description = "etcd password of meridian dns ${var.name}"
  type        = "SecureString"
  value       = var.etcd_password
  tags        = var.tags
}

resource "aws_ssm_parameter" "geoip_license_key" {
  count       = local.geoip ? 1 : 0
  name        = "${local.parameter_prefix}/geoip-license-key"
  description = "MaxMind license key of meridian dns ${var.name}"
  type        = "SecureString"
  value       = var.geoip_license_key
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

resource "aws_iam_role" "dns" {
  name_prefix        = "meridian-dns-"
  description        = "meridian dns ${var.name}: reads its secrets"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "secrets" {
  name = "meridian-secrets"
  role = aws_iam_role.dns.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = ["ssm:GetParameter"]
      Resource = concat(
        [aws_ssm_parameter.etcd_client_key.arn],
        aws_ssm_parameter.etcd_password[*].arn,
        aws_ssm_parameter.geoip_license_key[*].arn,
      )
    }]
  })
}

resource "aws_iam_instance_profile" "dns" {
  name_prefix = "meridian-dns-"
  role        = aws_iam_role.dns.name
  tags        = var.tags
}

# --- Servers ---

module "cloud_init" {
  source   = "../meridian-cloud-init"
  for_each = local.servers

  service = "dns"
  # ":53" is every address, IPv4 and IPv6: Go opens one dual-stack socket.
  # Listing "[::]:53,0.0.0.0:53" would fail on Linux, where the second
  # bind collides with the first.
  args = concat(
    [
      "--listen", ":53",
      "--admin", local.admin_listen,
      "--nsid", each.key,
      "--log-format", "json",
    ],
    local.geoip ? ["--geoip", local.mmdb] : [],
    var.extra_args,
  )
  binary_url           = var.meridian_binary_url
  binary_sha256        = var.meridian_binary_sha256
  etcd_endpoints       = var.etcd_endpoints
  etcd_ca_pem          = var.etcd_ca_pem
  etcd_client_cert_pem = var.etcd_client_cert_pem
  etcd_user            = var.etcd_user
  secret_files         = local.secret_files
  packages             = ["awscli"]
  files                = local.geoip_files
  # The first download must finish before meridian dns starts with --geoip.
  boot_commands = local.geoip ? ["/usr/local/lib/meridian/geoip-update.sh"] : []
  enable_units  = local.geoip ? ["meridian-geoip-update.timer"] : []
}

resource "aws_eip" "dns" {
  for_each = local.servers
  domain   = "vpc"
  # These addresses are glue in the parent zone (and possibly at a
  # registrar): keep them when servers are replaced.
  tags = merge(var.tags, { Name = each.key, "meridian:role" = "dns" })
}

resource "aws_instance" "dns" {
  for_each                    = local.servers
  ami                         = coalesce(var.ami_id, try(data.aws_ami.debian[0].id, null))
  instance_type               = var.instance_type
  subnet_id                   = each.value.subnet_id
  vpc_security_group_ids      = [aws_security_group.dns.id]
  iam_instance_profile        = aws_iam_instance_profile.dns.name
  associate_public_ip_address = true # outbound until the Elastic IP is attached
  ipv6_address_count          = var.enable_ipv6 ? 1 : null
  user_data_base64            = module.cloud_init[each.key].user_data_base64

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
  }

  tags        = merge(var.tags, { Name = each.key, "meridian:role" = "dns" })
  volume_tags = merge(var.tags, { Name = each.key })

  lifecycle {
    create_before_destroy = true
    # A changed configuration (binary, certificates, flags) or a newer
    # Debian image must not replace every nameserver at once: the Elastic
    # IP would move to instances that are still booting. Roll them one at
    # a time with `terraform apply -replace=...` (see README.md).
    ignore_changes = [ami, user_data_base64]
  }
}

resource "aws_eip_association" "dns" {
  for_each      = local.servers
  allocation_id = aws_eip.dns[each.key].id
  instance_id   = aws_instance.dns[each.key].id
}
