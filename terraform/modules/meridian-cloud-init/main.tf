# Renders the cloud-init user data that installs one meridian service on a
# Debian or Ubuntu instance: the binary (checked against its SHA-256), the
# etcd TLS files, secrets fetched at boot, an environment file and a
# hardened systemd unit. Nothing here knows about a cloud provider: the
# AWS modules pass commands that read secrets from SSM Parameter Store, and
# another cloud would pass its own.

locals {
  unit_name = "meridian-${var.service}.service"
  env_file  = "/etc/meridian/${var.service}.env"
  boot_dir  = "/usr/local/lib/meridian/boot"

  # Every flag has an environment twin (--etcd-ca is MERIDIAN_ETCD_CA), so
  # the etcd settings live in the environment file and the command line
  # keeps only what the caller passed.
  environment = merge(
    {
      MERIDIAN_ETCD_ENDPOINTS = join(",", var.etcd_endpoints)
      MERIDIAN_ETCD_CA        = "/etc/meridian/etcd/ca.pem"
      MERIDIAN_ETCD_CERT      = "/etc/meridian/etcd/client.pem"
      MERIDIAN_ETCD_KEY       = "/etc/meridian/etcd/client-key.pem"
    },
    var.etcd_user == null ? {} : {
      MERIDIAN_ETCD_USER          = var.etcd_user
      MERIDIAN_ETCD_PASSWORD_FILE = "/etc/meridian/etcd/password"
    },
    var.environment,
  )

  # systemd expands % specifiers and $VARIABLES in ExecStart; escape both
  # so that every word reaches meridian as written.
  exec_words = [for a in var.args : replace(replace(a, "%", "%%"), "$", "$$")]
  exec_start = join(" ", concat(["/usr/local/bin/meridian", var.service], local.exec_words))

  secret_paths      = sort(keys(var.secret_files))
  env_command_names = sort(keys(var.environment_commands))

  unit = templatefile("${path.module}/meridian.service.tftpl", {
    service      = var.service
    env_file     = local.env_file
    exec_start   = local.exec_start
    stop_timeout = var.stop_timeout
  })

  install_script = templatefile("${path.module}/install.sh.tftpl", {
    service           = var.service
    binary_url        = var.binary_url
    binary_sha256     = var.binary_sha256
    secret_paths      = local.secret_paths
    env_command_names = local.env_command_names
    env_file          = local.env_file
    boot_indexes      = range(length(var.boot_commands))
    enable_units      = var.enable_units
    unit_name         = local.unit_name
  })

  write_files = concat(
    [
      { path = "/usr/local/lib/meridian/install.sh", permissions = "0700", content = local.install_script },
      { path = "/etc/systemd/system/${local.unit_name}", permissions = "0644", content = local.unit },
      {
        path        = local.env_file
        permissions = "0640"
        content     = join("", [for k in sort(keys(local.environment)) : "${k}=${local.environment[k]}\n"])
      },
      { path = "/etc/meridian/etcd/ca.pem", permissions = "0644", content = var.etcd_ca_pem },
      { path = "/etc/meridian/etcd/client.pem", permissions = "0644", content = var.etcd_client_cert_pem },
    ],
    [for i, p in local.secret_paths : {
      path        = "${local.boot_dir}/secret-${i}.sh"
      permissions = "0700"
      content     = "${var.secret_files[p]}\n"
    }],
    [for n in local.env_command_names : {
      path        = "${local.boot_dir}/env-${n}.sh"
      permissions = "0700"
      content     = "${var.environment_commands[n]}\n"
    }],
    [for i, c in var.boot_commands : {
      path        = "${local.boot_dir}/boot-${i}.sh"
      permissions = "0700"
      content     = "set -eu\n${c}\n"
    }],
    [for f in var.files : { path = f.path, permissions = f.permissions, content = f.content }],
  )

  cloud_config = {
    package_update = true
    packages       = distinct(concat(["curl", "ca-certificates"], var.packages))
    write_files    = local.write_files
    runcmd         = [["sh", "/usr/local/lib/meridian/install.sh"]]
  }
  user_data = "#cloud-config\n${yamlencode(local.cloud_config)}"
}
