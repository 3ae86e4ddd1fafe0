output "user_data" {
  description = "The cloud-config document (text), for providers that take user data as a string."
  value       = local.user_data
}

output "user_data_base64" {
  description = "The cloud-config document, gzip-compressed and base64-encoded: for aws_instance.user_data_base64 and aws_launch_template.user_data (EC2 allows 16 KiB)."
  value       = base64gzip(local.user_data)
}

output "unit_name" {
  description = "Name of the systemd unit, meridian-<service>.service."
  value       = local.unit_name
}

output "unit" {
  description = "The systemd unit file, for review or for hosts not provisioned by cloud-init."
  value       = local.unit
}

output "install_script" {
  description = "The first-boot install script that cloud-init runs, for review."
  value       = local.install_script
}

output "environment" {
  description = "The static part of the service's environment file (without the values computed at boot)."
  value       = local.environment
}
