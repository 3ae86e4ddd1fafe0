terraform {
  # 1.9: validation conditions that refer to other variables.
  required_version = "~> 1.9"

  # None: this module only renders text (cloud-config, a shell script and a
  # systemd unit) with Terraform's built-in functions.
  required_providers {}
}
