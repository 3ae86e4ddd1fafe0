variable "service" {
  description = "The meridian subcommand to run: dns, proxy or probe. The unit is meridian-<service>.service."
  type        = string

  validation {
    condition     = contains(["dns", "proxy", "probe"], var.service)
    error_message = "service must be dns, proxy or probe."
  }
}

variable "args" {
  description = "Flags after `meridian <service>`, one list element per word (\"--region\", \"eu-west\"). The etcd flags are set through the environment file; do not repeat them here."
  type        = list(string)
  default     = []

  validation {
    # systemd splits ExecStart on white space and honours quotes and
    # backslashes; keep every word free of them so nothing is re-split.
    condition     = alltrue([for a in var.args : can(regex("^[^\\s\"'\\\\]+$", a))])
    error_message = "args elements must not contain white space, quotes or backslashes."
  }
}

variable "binary_url" {
  description = "HTTPS URL of the meridian binary for the instance's architecture, either the bare binary or a .tar.gz/.tgz holding a file named meridian."
  type        = string

  validation {
    condition     = can(regex("^https://[^\\s']+$", var.binary_url))
    error_message = "binary_url must be an https:// URL without white space or quotes."
  }
}

variable "binary_sha256" {
  description = "SHA-256 of the file at binary_url, as 64 lower-case hex digits. The install script refuses any other file."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.binary_sha256))
    error_message = "binary_sha256 must be 64 lower-case hex digits."
  }
}

variable "etcd_endpoints" {
  description = "etcd client URLs, each https:// (MERIDIAN_ETCD_ENDPOINTS)."
  type        = list(string)

  validation {
    condition     = length(var.etcd_endpoints) > 0 && alltrue([for e in var.etcd_endpoints : can(regex("^https://[^\\s,]+$", e))])
    error_message = "etcd_endpoints must hold at least one https:// URL, without commas or white space."
  }
}

variable "etcd_ca_pem" {
  description = "PEM of the CA that signed the etcd servers' certificates; written to /etc/meridian/etcd/ca.pem."
  type        = string

  validation {
    condition     = strcontains(var.etcd_ca_pem, "-----BEGIN CERTIFICATE-----")
    error_message = "etcd_ca_pem must be a PEM certificate."
  }
}

variable "etcd_client_cert_pem" {
  description = "PEM of this service's etcd client certificate; written to /etc/meridian/etcd/client.pem. Its key comes from secret_files."
  type        = string

  validation {
    condition     = strcontains(var.etcd_client_cert_pem, "-----BEGIN CERTIFICATE-----")
    error_message = "etcd_client_cert_pem must be a PEM certificate."
  }
}

variable "etcd_user" {
  description = "etcd user name for password authentication, or null to authenticate by the client certificate's common name alone. When set, secret_files must write /etc/meridian/etcd/password."
  type        = string
  default     = null

  validation {
    condition     = var.etcd_user == null || can(regex("^[A-Za-z0-9._-]+$", var.etcd_user))
    error_message = "etcd_user must be letters, digits, dots, underscores or hyphens."
  }

  validation {
    condition     = var.etcd_user == null || contains(keys(var.secret_files), "/etc/meridian/etcd/password")
    error_message = "With etcd_user, secret_files must write /etc/meridian/etcd/password."
  }
}

variable "secret_files" {
  description = "Secrets that must not travel in user data: absolute path under /etc/meridian/ => a shell command that prints the file's content on the instance at first boot (for example `aws ssm get-parameter ...`). Files are mode 0640, group meridian. Must include /etc/meridian/etcd/client-key.pem."
  type        = map(string)

  validation {
    condition     = alltrue([for p in keys(var.secret_files) : can(regex("^/etc/meridian/[A-Za-z0-9._/-]+$", p)) && !strcontains(p, "..")])
    error_message = "secret_files paths must be under /etc/meridian/ and use only letters, digits, '.', '_', '-' and '/'."
  }

  validation {
    condition     = contains(keys(var.secret_files), "/etc/meridian/etcd/client-key.pem")
    error_message = "secret_files must write /etc/meridian/etcd/client-key.pem (the etcd client key)."
  }
}

variable "environment" {
  description = "Extra environment for the service: flag twins such as MERIDIAN_LOG_LEVEL = \"debug\". Written to /etc/meridian/<service>.env."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.environment : can(regex("^MERIDIAN_[A-Z0-9_]+$", k)) && !can(regex("[\\n\"\\\\]", v))])
    error_message = "environment names must match MERIDIAN_[A-Z0-9_]+ and values must not contain newlines, quotes or backslashes."
  }
}

variable "environment_commands" {
  description = "Environment computed on the instance at first boot: name => a shell command whose output is the value (for example MERIDIAN_ADVERTISE from the instance metadata). Appended to /etc/meridian/<service>.env."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment_commands) : can(regex("^MERIDIAN_[A-Z0-9_]+$", k))])
    error_message = "environment_commands names must match MERIDIAN_[A-Z0-9_]+."
  }
}

variable "files" {
  description = "Extra non-secret files to write, such as helper scripts and systemd units. permissions is an octal string."
  type = list(object({
    path        = string
    content     = string
    permissions = optional(string, "0644")
  }))
  default = []

  validation {
    condition     = alltrue([for f in var.files : startswith(f.path, "/") && can(regex("^0[0-7]{3}$", f.permissions))])
    error_message = "files paths must be absolute and permissions an octal string such as \"0644\"."
  }
}

variable "packages" {
  description = "Extra Debian packages to install before the service starts (curl and ca-certificates are always installed)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.packages : can(regex("^[a-z0-9][a-z0-9.+-]+$", p))])
    error_message = "packages must be Debian package names."
  }
}

variable "boot_commands" {
  description = "Shell commands run once as root after the binary and secrets are in place and before the units start (for example a first GeoIP download). A failing command stops the install."
  type        = list(string)
  default     = []
}

variable "enable_units" {
  description = "Extra systemd units (written through files) to enable and start before the service, such as a timer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.enable_units : can(regex("^[A-Za-z0-9@._-]+\\.(service|timer|socket|path)$", u))])
    error_message = "enable_units must be unit names ending in .service, .timer, .socket or .path."
  }
}

variable "stop_timeout" {
  description = "systemd TimeoutStopSec: how long the service may take to stop. A proxy drains on SIGTERM for the longest TTL of its services, so give it more than that."
  type        = string
  default     = "90s"

  validation {
    condition     = can(regex("^[0-9]+(ms|s|min|h)$", var.stop_timeout))
    error_message = "stop_timeout must be a systemd time span such as \"90s\" or \"5min\"."
  }
}
