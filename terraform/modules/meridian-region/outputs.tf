output "region" {
  description = "The Meridian region name."
  value       = var.region
}

output "proxy_addresses" {
  description = "The region's proxy addresses: the load balancer's Elastic IPs, one per subnet (or proxy_addresses as given)."
  value       = local.proxies
}

output "region_policy_json" {
  description = "Value of regions/<region>, as JSON: what `etcdctl put /meridian/regions/<region>` takes."
  value       = jsonencode(local.region_value)
}

output "pool_policy_json" {
  description = "The pools as a policy file fragment: JSON object of pools/<region>/<pool> => value."
  value       = jsonencode(local.pool_values)
}

output "policy" {
  description = "The region's whole policy (regions/<region> and its pools) as an object of key => value, to merge with other modules' policy into one file for `meridian policy apply`."
  value       = local.policy
}

output "policy_json" {
  description = "The region's whole policy as a policy file (JSON) for `meridian policy apply`."
  value       = local.policy_json
}

output "load_balancer_dns_name" {
  description = "DNS name of the network load balancer (for reference; DNS answers use the Elastic IPs), or null."
  value       = try(aws_lb.proxy[0].dns_name, null)
}

output "security_group_id" {
  description = "Security group of the proxies, to admit them at the backends or at etcd; null without AWS resources."
  value       = try(aws_security_group.proxy[0].id, null)
}

output "autoscaling_group_name" {
  description = "Name of the proxies' Auto Scaling group, or null."
  value       = try(aws_autoscaling_group.proxy[0].name, null)
}

output "iam_role_name" {
  description = "IAM role of the proxy instances, to attach more policies (for example AmazonSSMManagedInstanceCore); null without AWS resources."
  value       = try(aws_iam_role.proxy[0].name, null)
}
