variable "name" {
  description = "Name of this group of DNS servers, used in resource names and SSM parameter paths (\"eu-west\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1 to 32 lower-case letters, digits and inner hyphens."
  }
}

variable "nameservers" {
  description = "Host names of the DNS servers, one instance each (\"ns1.gslb.example.com\"). They become NS records of the zone; names inside the zone need glue, which the meridian-delegation module writes."
  type        = list(string)

  validation {
    condition     = length(var.nameservers) > 0 && alltrue([for n in var.nameservers : can(regex("^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,63}\\.?$", n))])
    error_message = "nameservers must be one or more fully qualified host names."
  }

  validation {
    condition     = length(distinct([for n in var.nameservers : trimsuffix(lower(n), ".")])) == length(var.nameservers)
    error_message = "nameservers must not repeat a name."
  }
}

variable "vpc_id" {
  description = "VPC of the DNS servers."
  type        = string

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Public subnets for the DNS servers; server i goes to subnet i modulo the count, so list subnets in different availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : startswith(s, "subnet-")])
    error_message = "subnet_ids must hold at least one subnet ID (subnet-...)."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the DNS servers."
  type        = string
  default     = "t3.small"
}

variable "architecture" {
  description = "CPU architecture of the instances, amd64 or arm64; meridian_binary_url must match it."
  type        = string
  default     = "amd64"

  validation {
    condition     = contains(["amd64", "arm64"], var.architecture)
    error_message = "architecture must be amd64 or arm64."
  }
}

variable "ami_id" {
  description = "AMI of the DNS servers, or null for the newest official Debian 12 image when an instance is created (a newer image later does not replace running servers). Needs apt and the awscli package."
  type        = string
  default     = null
}

variable "enable_ipv6" {
  description = "Give each server an IPv6 address (the subnets need an IPv6 range) and open port 53 to IPv6. The address is the server's AAAA glue; unlike the Elastic IP it changes when the instance is replaced."
  type        = bool
  default     = false
}

variable "admin_port" {
  description = "Port of the admin server (/metrics, /healthz, /readyz). It listens on 127.0.0.1 unless admin_cidrs is set."
  type        = number
  default     = 9153

  validation {
    condition     = var.admin_port >= 1 && var.admin_port <= 65535 && var.admin_port != 53
    error_message = "admin_port must be in 1..65535 and not 53."
  }
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach admin_port, such as a Prometheus server. Empty: the admin server listens on 127.0.0.1 only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "admin_cidrs must be CIDRs and must not be 0.0.0.0/0 or ::/0."
  }
}

variable "geoip_account_id" {
  description = "MaxMind account ID for downloading the GeoIP database, or null to run without one (clients are then placed only by geo/networks/* entries)."
  type        = string
  default     = null

  validation {
    condition     = var.geoip_account_id == null || can(regex("^[0-9]+$", var.geoip_account_id))
    error_message = "geoip_account_id must be digits."
  }
}

variable "geoip_license_key" {
  description = "MaxMind license key for geoip_account_id; stored as an SSM SecureString and read by the servers at boot and on each weekly refresh."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = (var.geoip_account_id == null) == (var.geoip_license_key == null)
    error_message = "Set geoip_license_key exactly when geoip_account_id is set."
  }
}

variable "geoip_edition" {
  description = "MaxMind edition to download; the file is /var/lib/meridian/<edition>.mmdb and goes to --geoip."
  type        = string
  default     = "GeoLite2-City"

  validation {
    condition     = contains(["GeoLite2-City", "GeoLite2-Country", "GeoIP2-City", "GeoIP2-Country"], var.geoip_edition)
    error_message = "geoip_edition must be GeoLite2-City, GeoLite2-Country, GeoIP2-City or GeoIP2-Country."
  }
}

variable "extra_args" {
  description = "More flags for `meridian dns`, one word per element (\"--log-level\", \"debug\"); see `meridian dns -h`. The module already sets the ones it manages."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.extra_args : can(regex("^[^\\s\"'\\\\]+$", a))])
    error_message = "extra_args elements must not contain white space, quotes or backslashes."
  }
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = {}
}

variable "meridian_binary_url" {
  description = "HTTPS URL of the meridian binary (or a .tar.gz holding it) for architecture."
  type        = string

  validation {
    condition     = startswith(var.meridian_binary_url, "https://")
    error_message = "meridian_binary_url must be an https:// URL."
  }
}

variable "meridian_binary_sha256" {
  description = "SHA-256 of the file at meridian_binary_url (64 hex digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.meridian_binary_sha256))
    error_message = "meridian_binary_sha256 must be 64 lower-case hex digits."
  }
}

variable "etcd_endpoints" {
  description = "etcd client URLs (https://...:2379), for example the meridian-etcd module's client_endpoints."
  type        = list(string)

  validation {
    condition     = length(var.etcd_endpoints) > 0
    error_message = "etcd_endpoints needs at least one URL."
  }
}

variable "etcd_ca_pem" {
  description = "PEM of the CA of the etcd servers' certificates."
  type        = string
}

variable "etcd_client_cert_pem" {
  description = "PEM of the DNS servers' etcd client certificate. With etcd auth on, its common name is the etcd user (meridian-dns: read /meridian/)."
  type        = string
}

variable "etcd_client_key_pem" {
  description = "PEM of the key of etcd_client_cert_pem. Stored as an SSM SecureString that only the servers' role may read; never put in user data."
  type        = string
  sensitive   = true
}

variable "etcd_user" {
  description = "etcd user for password authentication, or null to authenticate by the client certificate's common name."
  type        = string
  default     = null
}

variable "etcd_password" {
  description = "Password of etcd_user; stored as an SSM SecureString. Required with etcd_user."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = (var.etcd_user == null) == (var.etcd_password == null)
    error_message = "Set etcd_password exactly when etcd_user is set."
  }
}
