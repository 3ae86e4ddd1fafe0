output "nameservers" {
  description = "The servers as zones/<zone> nameservers entries, [{name = \"ns1.gslb.example.com.\", ipv4 = [...], ipv6 = [...]}], in the order of var.nameservers: the input of the meridian-delegation module."
  value = [for n in var.nameservers : {
    name = "${trimsuffix(lower(n), ".")}."
    ipv4 = [aws_eip.dns[trimsuffix(lower(n), ".")].public_ip]
    # One element, known when planning, so that the delegation can plan
    # its AAAA records before the instance exists.
    ipv6 = var.enable_ipv6 ? [aws_instance.dns[trimsuffix(lower(n), ".")].ipv6_addresses[0]] : []
  }]
}

output "nameserver_names" {
  description = "The servers' host names, with a trailing dot, for NS records."
  value       = [for n in var.nameservers : "${trimsuffix(lower(n), ".")}."]
}

output "addresses" {
  description = "Map of server host name (no trailing dot) => its Elastic IP: the IPv4 glue, stable across instance replacement."
  value       = { for k, e in aws_eip.dns : k => e.public_ip }
}

output "instance_ids" {
  description = "Map of server host name => EC2 instance ID."
  value       = { for k, i in aws_instance.dns : k => i.id }
}

output "security_group_id" {
  description = "Security group of the DNS servers."
  value       = aws_security_group.dns.id
}

output "iam_role_name" {
  description = "IAM role of the DNS servers, to attach more policies (for example AmazonSSMManagedInstanceCore)."
  value       = aws_iam_role.dns.name
}
