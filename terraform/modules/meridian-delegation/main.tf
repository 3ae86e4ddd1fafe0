# Delegates a zone to Meridian's DNS servers from a parent zone in Route 53
# (NS records, and glue for nameservers inside the zone), and renders the
# zone's policy, zones/<zone>, with the same nameservers: what the parent
# says and what Meridian serves at the apex must agree.

locals {
  zone   = trimsuffix(lower(var.zone), ".")
  parent = trimsuffix(lower(data.aws_route53_zone.parent.name), ".")

  nameservers = [for ns in var.nameservers : {
    name = trimsuffix(lower(ns.name), ".")
    ipv4 = ns.ipv4
    ipv6 = ns.ipv6
  }]

  # Nameservers inside the delegated zone can only be found through glue in
  # the parent. Nameservers elsewhere in the parent zone need ordinary
  # address records there. Names in other zones are published by whoever
  # owns those zones (see the unmanaged_nameservers output).
  in_zone   = { for ns in local.nameservers : ns.name => ns if endswith(".${ns.name}", ".${local.zone}") }
  in_parent = { for ns in local.nameservers : ns.name => ns if !endswith(".${ns.name}", ".${local.zone}") && endswith(ns.name, ".${local.parent}") }
  addressed = merge(local.in_zone, local.in_parent)

  # zones/<zone>: glue only for the names inside the zone; unset fields are
  # left out so that Meridian's defaults apply (docs/keyspace.md).
  zone_value = { for k, v in {
    ttl = var.zone_ttl
    soa = { for sk, sv in var.soa : sk => sv if sv != null }
    nameservers = [for ns in local.nameservers : { for nk, nv in {
      name = "${ns.name}."
      ipv4 = contains(keys(local.in_zone), ns.name) && length(ns.ipv4) > 0 ? ns.ipv4 : null
      ipv6 = contains(keys(local.in_zone), ns.name) && length(ns.ipv6) > 0 ? ns.ipv6 : null
    } : nk => nv if nv != null }]
    records = length(var.records) > 0 ? var.records : null
  } : k => v if v != null }

  policy      = { "zones/${local.zone}." = local.zone_value }
  policy_json = jsonencode(local.policy)
}

data "aws_route53_zone" "parent" {
  zone_id = var.parent_zone_id
}

resource "aws_route53_record" "ns" {
  zone_id = var.parent_zone_id
  name    = local.zone
  type    = "NS"
  ttl     = var.ns_ttl
  records = [for ns in local.nameservers : "${ns.name}."]

  lifecycle {
    precondition {
      condition     = endswith(local.zone, ".${local.parent}")
      error_message = "The zone ${local.zone} is not inside the parent hosted zone ${local.parent}."
    }
    precondition {
      condition     = alltrue([for ns in values(local.in_zone) : length(ns.ipv4) + length(ns.ipv6) > 0])
      error_message = "Every nameserver inside ${local.zone} needs an IPv4 or IPv6 address for glue."
    }
  }
}

resource "aws_route53_record" "a" {
  for_each = { for n, ns in local.addressed : n => ns.ipv4 if length(ns.ipv4) > 0 }
  zone_id  = var.parent_zone_id
  name     = each.key
  type     = "A"
  ttl      = var.glue_ttl
  records  = each.value
}

resource "aws_route53_record" "aaaa" {
  for_each = { for n, ns in local.addressed : n => ns.ipv6 if length(ns.ipv6) > 0 }
  zone_id  = var.parent_zone_id
  name     = each.key
  type     = "AAAA"
  ttl      = var.glue_ttl
  records  = each.value
}

# --- Optional: write zones/<zone> to etcd from the machine running terraform ---

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
