# An etcd cluster of 3 or 5 members spread over AWS regions, for Meridian's
# policy and health. Each member is one instance with a static Elastic IP:
# peers and clients reach it over the Internet, always with mutual TLS.
#
#   - Peer port 2380: open only to the other members' Elastic IPs; peer
#     certificates come from a CA of their own that signs nothing else, so
#     a client certificate can never act as a peer.
#   - Client port 2379: open to client_cidrs; clients need a certificate
#     from the client CA, and once auth is on (auth_setup_script) the
#     certificate's common name is the etcd user and its roles apply.
#
# AWS provider 6 places each member in its own region through the
# per-resource region argument, so one provider configuration is enough.

locals {
  members = { for m in var.members : m.name => m }
  regions = toset([for m in var.members : m.aws_region])

  download_url = coalesce(var.etcd_download_url, "https://github.com/etcd-io/etcd/releases/download/v${var.etcd_version}/etcd-v${var.etcd_version}-linux-${var.architecture}.tar.gz")

  own_client_ca      = var.client_ca_cert_pem == null
  client_ca_cert_pem = local.own_client_ca ? tls_self_signed_cert.client_ca[0].cert_pem : var.client_ca_cert_pem
  client_ca_key_pem  = local.own_client_ca ? tls_private_key.client_ca[0].private_key_pem : var.client_ca_private_key_pem

  initial_cluster  = join(",", [for m in var.members : "${m.name}=https://${aws_eip.member[m.name].public_ip}:2380"])
  client_endpoints = [for m in var.members : "https://${aws_eip.member[m.name].public_ip}:2379"]

  pki = "/etc/etcd/pki"

  # etcd's configuration file (etcd --config-file), per member.
  etcd_config = { for n, m in local.members : n => {
    "name"                        = n
    "data-dir"                    = "/var/lib/etcd"
    "listen-peer-urls"            = "https://0.0.0.0:2380"
    "listen-client-urls"          = "https://0.0.0.0:2379"
    "listen-metrics-urls"         = "http://127.0.0.1:2381"
    "advertise-client-urls"       = "https://${aws_eip.member[n].public_ip}:2379"
    "initial-advertise-peer-urls" = "https://${aws_eip.member[n].public_ip}:2380"
    "initial-cluster"             = local.initial_cluster
    "initial-cluster-token"       = var.name
    "initial-cluster-state"       = "new"
    "heartbeat-interval"          = var.heartbeat_interval_ms
    "election-timeout"            = var.election_timeout_ms
    # Meridian keeps no history: compact hourly so the database stays small.
    "auto-compaction-mode"      = "periodic"
    "auto-compaction-retention" = "1h"
    "client-transport-security" = {
      "cert-file"        = "${local.pki}/server.pem"
      "key-file"         = "${local.pki}/member-key.pem"
      "trusted-ca-file"  = "${local.pki}/client-ca.pem"
      "client-cert-auth" = true
    }
    "peer-transport-security" = {
      "cert-file"        = "${local.pki}/peer.pem"
      "key-file"         = "${local.pki}/member-key.pem"
      "trusted-ca-file"  = "${local.pki}/peer-ca.pem"
      "client-cert-auth" = true
    }
  } }

  etcd_unit = <<-EOT
    [Unit]
    Description=etcd, Meridian's store
    Documentation=https://etcd.io/docs/
    Wants=network-online.target
    After=network-online.target

    [Service]
    Type=notify
    User=etcd
    Group=etcd
    ExecStart=/usr/local/bin/etcd --config-file /etc/etcd/etcd.yml
    Restart=always
    RestartSec=5s
    # At bootstrap a member waits for its peers; do not kill it meanwhile.
    TimeoutStartSec=0
    LimitNOFILE=65536
    NoNewPrivileges=yes
    ProtectSystem=strict
    ReadWritePaths=/var/lib/etcd
    ProtectHome=yes
    PrivateTmp=yes

    [Install]
    WantedBy=multi-user.target
  EOT

  cloud_config = { for n, m in local.members : n => {
    package_update = true
    packages       = ["curl", "ca-certificates", "awscli"]
    write_files = [
      { path = "/usr/local/lib/etcd/install.sh", permissions = "0700", content = templatefile("${path.module}/install-etcd.sh.tftpl", {
        name         = n
        download_url = local.download_url
        sha256       = var.etcd_sha256
        pki          = local.pki
        key_command  = "aws ssm get-parameter --region ${m.aws_region} --with-decryption --query Parameter.Value --output text --name '${aws_ssm_parameter.member_key[n].name}'"
      }) },
      { path = "/etc/systemd/system/etcd.service", permissions = "0644", content = local.etcd_unit },
      { path = "/etc/etcd/etcd.yml", permissions = "0640", content = yamlencode(local.etcd_config[n]) },
      { path = "${local.pki}/client-ca.pem", permissions = "0644", content = local.client_ca_cert_pem },
      { path = "${local.pki}/server.pem", permissions = "0644", content = tls_locally_signed_cert.member_server[n].cert_pem },
      { path = "${local.pki}/peer-ca.pem", permissions = "0644", content = tls_self_signed_cert.peer_ca.cert_pem },
      { path = "${local.pki}/peer.pem", permissions = "0644", content = tls_locally_signed_cert.member_peer[n].cert_pem },
    ]
    runcmd = [["sh", "/usr/local/lib/etcd/install.sh"]]
  } }
  user_data = { for n, c in local.cloud_config : n => "#cloud-config\n${yamlencode(c)}" }

  # Roles of auth_setup_script, by client role.
  client_roles = {
    root  = ["root"]
    admin = ["meridian-admin"]
    dns   = ["meridian-reader"]
    proxy = ["meridian-reader", "meridian-status"]
    probe = ["meridian-reader", "meridian-status"]
  }
  auth_setup_script = join("\n", concat(
    [
      "#!/bin/sh",
      "# Turns on etcd authentication for Meridian. Run it once, from an address in",
      "# client_cidrs, with the root client certificate:",
      "#   ETCDCTL_ENDPOINTS=${join(",", local.client_endpoints)} \\",
      "#   ETCDCTL_CACERT=ca.pem ETCDCTL_CERT=root.pem ETCDCTL_KEY=root-key.pem sh auth-setup.sh",
      "# Users have no password: etcd takes the user from the certificate's common name.",
      "set -eu",
      "etcdctl role add meridian-reader",
      "etcdctl role grant-permission --prefix=true meridian-reader read '${var.etcd_prefix}'",
      "etcdctl role add meridian-status",
      "etcdctl role grant-permission --prefix=true meridian-status readwrite '${var.etcd_prefix}status/'",
      "etcdctl role add meridian-admin",
      "etcdctl role grant-permission --prefix=true meridian-admin readwrite '${var.etcd_prefix}'",
    ],
    flatten([for n in sort(keys(var.clients)) : concat(
      ["etcdctl user add '${n}' --no-password"],
      [for r in local.client_roles[var.clients[n]] : "etcdctl user grant-role '${n}' ${r}"],
    )]),
    ["etcdctl auth enable", ""],
  ))
}

data "aws_subnet" "member" {
  for_each = local.members
  region   = each.value.aws_region
  id       = each.value.subnet_id
}

data "aws_ami" "debian" {
  for_each    = setsubtract(local.regions, keys(var.ami_ids))
  region      = each.value
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

resource "aws_eip" "member" {
  for_each = local.members
  region   = each.value.aws_region
  domain   = "vpc"
  tags     = merge(var.tags, { Name = "${var.name}-${each.key}", "meridian:role" = "etcd" })
}

# --- PKI ---

resource "tls_private_key" "peer_ca" {
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_self_signed_cert" "peer_ca" {
  private_key_pem       = tls_private_key.peer_ca.private_key_pem
  is_ca_certificate     = true
  validity_period_hours = var.ca_validity_hours
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature"]

  subject {
    common_name  = "${var.name} peer CA"
    organization = "Meridian"
  }
}

resource "tls_private_key" "client_ca" {
  count       = local.own_client_ca ? 1 : 0
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_self_signed_cert" "client_ca" {
  count                 = local.own_client_ca ? 1 : 0
  private_key_pem       = tls_private_key.client_ca[0].private_key_pem
  is_ca_certificate     = true
  validity_period_hours = var.ca_validity_hours
  allowed_uses          = ["cert_signing", "crl_signing", "digital_signature"]

  subject {
    common_name  = "${var.name} client CA"
    organization = "Meridian"
  }
}

# One key per member serves both its certificates.
resource "tls_private_key" "member" {
  for_each    = local.members
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "member" {
  for_each        = local.members
  private_key_pem = tls_private_key.member[each.key].private_key_pem
  dns_names       = [each.key, "localhost"]
  ip_addresses    = [aws_eip.member[each.key].public_ip, "127.0.0.1"]

  subject {
    common_name  = each.key
    organization = "Meridian"
  }
}

# The client-port certificate, from the client CA. client_auth as well:
# etcd's gRPC gateway dials the member with it.
resource "tls_locally_signed_cert" "member_server" {
  for_each              = local.members
  cert_request_pem      = tls_cert_request.member[each.key].cert_request_pem
  ca_private_key_pem    = local.client_ca_key_pem
  ca_cert_pem           = local.client_ca_cert_pem
  validity_period_hours = var.cert_validity_hours
  early_renewal_hours   = var.cert_early_renewal_hours
  allowed_uses          = ["digital_signature", "server_auth", "client_auth"]
}

# The peer certificate, from the peer CA: peers are both client and server.
resource "tls_locally_signed_cert" "member_peer" {
  for_each              = local.members
  cert_request_pem      = tls_cert_request.member[each.key].cert_request_pem
  ca_private_key_pem    = tls_private_key.peer_ca.private_key_pem
  ca_cert_pem           = tls_self_signed_cert.peer_ca.cert_pem
  validity_period_hours = var.cert_validity_hours
  early_renewal_hours   = var.cert_early_renewal_hours
  allowed_uses          = ["digital_signature", "server_auth", "client_auth"]
}

resource "tls_private_key" "client" {
  for_each    = var.clients
  algorithm   = "ECDSA"
  ecdsa_curve = "P256"
}

resource "tls_cert_request" "client" {
  for_each        = var.clients
  private_key_pem = tls_private_key.client[each.key].private_key_pem

  subject {
    common_name  = each.key
    organization = "Meridian"
  }
}

resource "tls_locally_signed_cert" "client" {
  for_each              = var.clients
  cert_request_pem      = tls_cert_request.client[each.key].cert_request_pem
  ca_private_key_pem    = local.client_ca_key_pem
  ca_cert_pem           = local.client_ca_cert_pem
  validity_period_hours = var.cert_validity_hours
  early_renewal_hours   = var.cert_early_renewal_hours
  allowed_uses          = ["digital_signature", "client_auth"]
}

# --- Member keys in SSM, readable only by that member ---

resource "aws_ssm_parameter" "member_key" {
  for_each    = local.members
  region      = each.value.aws_region
  name        = "/${var.name}/${each.key}/member-key"
  description = "TLS key of etcd member ${each.key}"
  type        = "SecureString"
  value       = tls_private_key.member[each.key].private_key_pem
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

resource "aws_iam_role" "member" {
  for_each           = local.members
  name_prefix        = "${var.name}-"
  description        = "etcd member ${each.key}: reads its TLS key"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "member" {
  for_each = local.members
  name     = "etcd-member-key"
  role     = aws_iam_role.member[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = [aws_ssm_parameter.member_key[each.key].arn]
    }]
  })
}

resource "aws_iam_instance_profile" "member" {
  for_each    = local.members
  name_prefix = "${var.name}-"
  role        = aws_iam_role.member[each.key].name
  tags        = var.tags
}

# --- Security groups ---

resource "aws_security_group" "member" {
  for_each    = local.members
  region      = each.value.aws_region
  name_prefix = "${var.name}-${each.key}-"
  description = "etcd member ${each.key}: peers from the other members, clients from client_cidrs"
  vpc_id      = data.aws_subnet.member[each.key].vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "peer" {
  for_each = { for p in setproduct(keys(local.members), keys(local.members)) : "${p[0]}<-${p[1]}" => {
    member = p[0]
    peer   = p[1]
  } if p[0] != p[1] }
  region            = local.members[each.value.member].aws_region
  security_group_id = aws_security_group.member[each.value.member].id
  description       = "etcd peer ${each.value.peer}"
  cidr_ipv4         = "${aws_eip.member[each.value.peer].public_ip}/32"
  ip_protocol       = "tcp"
  from_port         = 2380
  to_port           = 2380
}

resource "aws_vpc_security_group_ingress_rule" "client" {
  # Keyed by position in client_cidrs: a key must be known when planning,
  # and a CIDR may be an address that is only known after apply.
  for_each = { for p in setproduct(keys(local.members), range(length(var.client_cidrs))) : "${p[0]}/${p[1]}" => {
    member = p[0]
    cidr   = var.client_cidrs[p[1]]
  } }
  region            = local.members[each.value.member].aws_region
  security_group_id = aws_security_group.member[each.value.member].id
  description       = "etcd clients"
  cidr_ipv4         = strcontains(each.value.cidr, ":") ? null : each.value.cidr
  cidr_ipv6         = strcontains(each.value.cidr, ":") ? each.value.cidr : null
  ip_protocol       = "tcp"
  from_port         = 2379
  to_port           = 2379
}

resource "aws_vpc_security_group_egress_rule" "all_ipv4" {
  for_each          = local.members
  region            = each.value.aws_region
  security_group_id = aws_security_group.member[each.key].id
  description       = "peers, SSM, the etcd release, package mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

# --- Members ---

resource "aws_instance" "member" {
  for_each                    = local.members
  region                      = each.value.aws_region
  ami                         = coalesce(lookup(var.ami_ids, each.value.aws_region, null), try(data.aws_ami.debian[each.value.aws_region].id, null))
  instance_type               = var.instance_type
  subnet_id                   = each.value.subnet_id
  vpc_security_group_ids      = [aws_security_group.member[each.key].id]
  iam_instance_profile        = aws_iam_instance_profile.member[each.key].name
  associate_public_ip_address = true # outbound until the Elastic IP is attached
  user_data_base64            = base64gzip(local.user_data[each.key])

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
    volume_size = var.volume_size_gb
  }

  tags        = merge(var.tags, { Name = "${var.name}-${each.key}", "meridian:role" = "etcd" })
  volume_tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    # A member holds data: never replace it because the image or the
    # rendered configuration changed. Replacing a member is an etcd
    # procedure (member remove, member add, start with
    # initial-cluster-state existing); see README.md.
    ignore_changes = [ami, user_data_base64]
  }
}

resource "aws_eip_association" "member" {
  for_each      = local.members
  region        = each.value.aws_region
  allocation_id = aws_eip.member[each.key].id
  instance_id   = aws_instance.member[each.key].id
}
