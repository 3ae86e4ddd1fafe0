output "zone" {
  description = "The delegated zone, lower case with a trailing dot."
  value       = "${local.zone}."
}

output "zone_policy_json" {
  description = "Value of zones/<zone>, as JSON: SOA, nameservers with glue, records. What `etcdctl put /meridian/zones/<zone>.` takes."
  value       = jsonencode(local.zone_value)
}

output "policy" {
  description = "zones/<zone> as an object of key => value, to merge with other modules' policy into one file for `meridian policy apply`."
  value       = local.policy
}

output "policy_json" {
  description = "zones/<zone> as a policy file (JSON) for `meridian policy apply`."
  value       = local.policy_json
}

output "ns_records" {
  description = "The NS record values written in the parent zone."
  value       = aws_route53_record.ns.records
}

output "glue" {
  description = "Address records written in the parent zone, by nameserver name: { ipv4, ipv6 }. Glue for names inside the zone, ordinary records for names elsewhere in the parent."
  value = { for n, ns in local.addressed : n => {
    ipv4 = ns.ipv4
    ipv6 = ns.ipv6
  } }
}

output "unmanaged_nameservers" {
  description = "Nameservers outside both the zone and the parent zone: their address records are not written here and must exist elsewhere."
  value       = [for ns in local.nameservers : "${ns.name}." if !contains(keys(local.addressed), ns.name)]
}
