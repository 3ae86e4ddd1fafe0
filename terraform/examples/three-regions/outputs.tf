output "policy_json" {
  description = "The whole policy (zone, regions, pools, the www service) as one policy file: terraform output -raw policy_json > policy.json; meridian policy apply policy.json."
  value       = local.policy_json
}

output "nameservers" {
  description = "The zone's nameservers with their addresses (the glue in the parent zone)."
  value       = local.nameservers
}

output "proxy_addresses" {
  description = "Each Meridian region's proxy addresses (the load balancers' Elastic IPs)."
  value = {
    "eu-west"      = module.region_eu_west.proxy_addresses
    "us-east"      = module.region_us_east.proxy_addresses
    "ap-southeast" = module.region_ap_southeast.proxy_addresses
  }
}

output "etcd_endpoints" {
  description = "etcd client URLs, comma-separated: the value of MERIDIAN_ETCD_ENDPOINTS and ETCDCTL_ENDPOINTS."
  value       = join(",", module.etcd.client_endpoints)
}

output "etcd_ca_pem" {
  description = "PEM of the etcd client CA (MERIDIAN_ETCD_CA, ETCDCTL_CACERT)."
  value       = module.etcd.ca_cert_pem
}

output "etcd_admin_cert_pem" {
  description = "Client certificate for meridian policy and etcdctl as meridian-admin (read-write under /meridian/ once auth is on)."
  value       = module.etcd.client_certificates["meridian-admin"].cert_pem
  sensitive   = true
}

output "etcd_admin_key_pem" {
  description = "Key of etcd_admin_cert_pem."
  value       = module.etcd.client_certificates["meridian-admin"].private_key_pem
  sensitive   = true
}

output "etcd_root_cert_pem" {
  description = "Client certificate of the etcd root user, for auth_setup_script only."
  value       = module.etcd.client_certificates["root"].cert_pem
  sensitive   = true
}

output "etcd_root_key_pem" {
  description = "Key of etcd_root_cert_pem."
  value       = module.etcd.client_certificates["root"].private_key_pem
  sensitive   = true
}

output "etcd_auth_setup_script" {
  description = "etcdctl commands that create Meridian's roles and users and turn etcd auth on; run once with the root certificate."
  value       = module.etcd.auth_setup_script
}

output "etcd_certificates_expire" {
  description = "Expiry of every etcd certificate, for monitoring."
  value       = module.etcd.certificates_expire
}
