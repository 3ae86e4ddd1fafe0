output "client_endpoints" {
  description = "Client URLs of the members (https://<Elastic IP>:2379), for --etcd-endpoints."
  value       = local.client_endpoints
}

output "ca_cert_pem" {
  description = "PEM of the client CA: what clients trust for the members' certificates (--etcd-ca) and what signs client certificates."
  value       = local.client_ca_cert_pem
}

output "client_certificates" {
  description = "Client certificates by common name (see clients): { cert_pem, private_key_pem }. Sensitive."
  sensitive   = true
  value = { for n, c in tls_locally_signed_cert.client : n => {
    cert_pem        = c.cert_pem
    private_key_pem = tls_private_key.client[n].private_key_pem
  } }
}

output "members" {
  description = "Members by name: AWS region, address (the Elastic IP) and instance ID."
  value = { for n, m in local.members : n => {
    aws_region  = m.aws_region
    address     = aws_eip.member[n].public_ip
    instance_id = aws_instance.member[n].id
  } }
}

output "initial_cluster" {
  description = "The cluster's initial-cluster string (name=https://address:2380,...)."
  value       = local.initial_cluster
}

output "auth_setup_script" {
  description = "Shell script of etcdctl commands that create Meridian's roles and one user per client certificate, then turn auth on. Run it once after the cluster is up."
  value       = local.auth_setup_script
}

output "certificates_expire" {
  description = "When each member and client certificate expires (RFC 3339), for monitoring and rotation."
  value = merge(
    { for n, c in tls_locally_signed_cert.member_server : "member/${n}" => c.validity_end_time },
    { for n, c in tls_locally_signed_cert.client : "client/${n}" => c.validity_end_time },
  )
}

output "security_group_ids" {
  description = "Security group of each member, by member name."
  value       = { for n, g in aws_security_group.member : n => g.id }
}
