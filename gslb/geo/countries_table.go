package geo

// countries is every ISO 3166-1 alpha-2 code, plus XK (Kosovo, user-assigned
// but returned by MaxMind and DB-IP), with its continent and a representative
// point. Sorted by code; TestCountryTable checks that.
//
// Continents follow GeoNames, which is what MaxMind's continent field is built
// from, so ContinentOf agrees with the database for the same country (RU is
// EU, TR and the Caucasus are AS, Central America and the Caribbean are NA).
//
// Points are geographic centroids rounded to 0.01 degree (about 1 km), except
// where most people live far from the geographic centre: there the table
// holds a rough population-weighted centre instead, because its only job is
// to guess where a client is. Russia's geographic centroid is in Siberia and
// would steer Moscow to a Tokyo region; Canada's is 1,000 km north of where
// Canadians live. Precision beyond a few hundred kilometres does not change
// which region is nearest.
var countries = [...]country{
	{"AD", "EU", 42.55, 1.60},     // Andorra
	{"AE", "AS", 23.42, 53.85},    // United Arab Emirates
	{"AF", "AS", 33.94, 67.71},    // Afghanistan
	{"AG", "NA", 17.06, -61.80},   // Antigua and Barbuda
	{"AI", "NA", 18.22, -63.07},   // Anguilla
	{"AL", "EU", 41.15, 20.17},    // Albania
	{"AM", "AS", 40.07, 45.04},    // Armenia
	{"AO", "AF", -11.20, 17.87},   // Angola
	{"AQ", "AN", -75.25, -0.07},   // Antarctica
	{"AR", "SA", -34.60, -61.50},  // Argentina (population-weighted)
	{"AS", "OC", -14.27, -170.13}, // American Samoa
	{"AT", "EU", 47.52, 14.55},    // Austria
	{"AU", "OC", -32.00, 146.00},  // Australia (population-weighted)
	{"AW", "NA", 12.52, -69.97},   // Aruba
	{"AX", "EU", 60.18, 19.92},    // Aland Islands
	{"AZ", "AS", 40.14, 47.58},    // Azerbaijan
	{"BA", "EU", 43.92, 17.68},    // Bosnia and Herzegovina
	{"BB", "NA", 13.19, -59.54},   // Barbados
	{"BD", "AS", 23.68, 90.36},    // Bangladesh
	{"BE", "EU", 50.50, 4.47},     // Belgium
	{"BF", "AF", 12.24, -1.56},    // Burkina Faso
	{"BG", "EU", 42.73, 25.49},    // Bulgaria
	{"BH", "AS", 25.93, 50.64},    // Bahrain
	{"BI", "AF", -3.37, 29.92},    // Burundi
	{"BJ", "AF", 9.31, 2.32},      // Benin
	{"BL", "NA", 17.90, -62.83},   // Saint Barthelemy
	{"BM", "NA", 32.32, -64.76},   // Bermuda
	{"BN", "AS", 4.54, 114.73},    // Brunei
	{"BO", "SA", -16.29, -63.59},  // Bolivia
	{"BQ", "NA", 12.18, -68.24},   // Bonaire, Sint Eustatius and Saba
	{"BR", "SA", -18.00, -45.50},  // Brazil (population-weighted)
	{"BS", "NA", 25.03, -77.40},   // Bahamas
	{"BT", "AS", 27.51, 90.43},    // Bhutan
	{"BV", "AN", -54.42, 3.41},    // Bouvet Island
	{"BW", "AF", -22.33, 24.68},   // Botswana
	{"BY", "EU", 53.71, 27.95},    // Belarus
	{"BZ", "NA", 17.19, -88.50},   // Belize
	{"CA", "NA", 46.50, -80.50},   // Canada (population-weighted)
	{"CC", "AS", -12.16, 96.87},   // Cocos (Keeling) Islands
	{"CD", "AF", -4.04, 21.76},    // Congo (DRC)
	{"CF", "AF", 6.61, 20.94},     // Central African Republic
	{"CG", "AF", -0.23, 15.83},    // Congo (Republic)
	{"CH", "EU", 46.82, 8.23},     // Switzerland
	{"CI", "AF", 7.54, -5.55},     // Cote d'Ivoire
	{"CK", "OC", -21.24, -159.78}, // Cook Islands
	{"CL", "SA", -35.68, -71.54},  // Chile
	{"CM", "AF", 7.37, 12.35},     // Cameroon
	{"CN", "AS", 32.00, 113.00},   // China (population-weighted)
	{"CO", "SA", 4.57, -74.30},    // Colombia
	{"CR", "NA", 9.75, -83.75},    // Costa Rica
	{"CU", "NA", 21.52, -77.78},   // Cuba
	{"CV", "AF", 16.00, -24.01},   // Cabo Verde
	{"CW", "NA", 12.17, -68.99},   // Curacao
	{"CX", "OC", -10.45, 105.69},  // Christmas Island
	{"CY", "EU", 35.13, 33.43},    // Cyprus
	{"CZ", "EU", 49.82, 15.47},    // Czechia
	{"DE", "EU", 51.17, 10.45},    // Germany
	{"DJ", "AF", 11.83, 42.59},    // Djibouti
	{"DK", "EU", 56.26, 9.50},     // Denmark
	{"DM", "NA", 15.41, -61.37},   // Dominica
	{"DO", "NA", 18.74, -70.16},   // Dominican Republic
	{"DZ", "AF", 28.03, 1.66},     // Algeria
	{"EC", "SA", -1.83, -78.18},   // Ecuador
	{"EE", "EU", 58.60, 25.01},    // Estonia
	{"EG", "AF", 26.82, 30.80},    // Egypt
	{"EH", "AF", 24.22, -12.89},   // Western Sahara
	{"ER", "AF", 15.18, 39.78},    // Eritrea
	{"ES", "EU", 40.46, -3.75},    // Spain
	{"ET", "AF", 9.15, 40.49},     // Ethiopia
	{"FI", "EU", 61.92, 25.75},    // Finland
	{"FJ", "OC", -16.58, 179.41},  // Fiji
	{"FK", "SA", -51.80, -59.52},  // Falkland Islands
	{"FM", "OC", 7.43, 150.55},    // Micronesia
	{"FO", "EU", 61.89, -6.91},    // Faroe Islands
	{"FR", "EU", 46.23, 2.21},     // France
	{"GA", "AF", -0.80, 11.61},    // Gabon
	{"GB", "EU", 55.38, -3.44},    // United Kingdom
	{"GD", "NA", 12.26, -61.60},   // Grenada
	{"GE", "AS", 42.32, 43.36},    // Georgia
	{"GF", "SA", 3.93, -53.13},    // French Guiana
	{"GG", "EU", 49.47, -2.59},    // Guernsey
	{"GH", "AF", 7.95, -1.02},     // Ghana
	{"GI", "EU", 36.14, -5.35},    // Gibraltar
	{"GL", "NA", 64.18, -51.72},   // Greenland (population-weighted)
	{"GM", "AF", 13.44, -15.31},   // Gambia
	{"GN", "AF", 9.95, -9.70},     // Guinea
	{"GP", "NA", 17.00, -62.07},   // Guadeloupe
	{"GQ", "AF", 1.65, 10.27},     // Equatorial Guinea
	{"GR", "EU", 39.07, 21.82},    // Greece
	{"GS", "AN", -54.43, -36.59},  // South Georgia and the South Sandwich Islands
	{"GT", "NA", 15.78, -90.23},   // Guatemala
	{"GU", "OC", 13.44, 144.79},   // Guam
	{"GW", "AF", 11.80, -15.18},   // Guinea-Bissau
	{"GY", "SA", 4.86, -58.93},    // Guyana
	{"HK", "AS", 22.40, 114.11},   // Hong Kong
	{"HM", "AN", -53.08, 73.50},   // Heard Island and McDonald Islands
	{"HN", "NA", 15.20, -86.24},   // Honduras
	{"HR", "EU", 45.10, 15.20},    // Croatia
	{"HT", "NA", 18.97, -72.29},   // Haiti
	{"HU", "EU", 47.16, 19.50},    // Hungary
	{"ID", "AS", -6.00, 110.50},   // Indonesia (population-weighted)
	{"IE", "EU", 53.41, -8.24},    // Ireland
	{"IL", "AS", 31.05, 34.85},    // Israel
	{"IM", "EU", 54.24, -4.55},    // Isle of Man
	{"IN", "AS", 20.59, 78.96},    // India
	{"IO", "AS", -6.34, 71.88},    // British Indian Ocean Territory
	{"IQ", "AS", 33.22, 43.68},    // Iraq
	{"IR", "AS", 32.43, 53.69},    // Iran
	{"IS", "EU", 64.96, -19.02},   // Iceland
	{"IT", "EU", 41.87, 12.57},    // Italy
	{"JE", "EU", 49.21, -2.13},    // Jersey
	{"JM", "NA", 18.11, -77.30},   // Jamaica
	{"JO", "AS", 30.59, 36.24},    // Jordan
	{"JP", "AS", 36.20, 138.25},   // Japan
	{"KE", "AF", -0.02, 37.91},    // Kenya
	{"KG", "AS", 41.20, 74.77},    // Kyrgyzstan
	{"KH", "AS", 12.57, 104.99},   // Cambodia
	{"KI", "OC", -3.37, -168.73},  // Kiribati
	{"KM", "AF", -11.88, 43.87},   // Comoros
	{"KN", "NA", 17.36, -62.78},   // Saint Kitts and Nevis
	{"KP", "AS", 40.34, 127.51},   // North Korea
	{"KR", "AS", 35.91, 127.77},   // South Korea
	{"KW", "AS", 29.31, 47.48},    // Kuwait
	{"KY", "NA", 19.51, -80.57},   // Cayman Islands
	{"KZ", "AS", 48.02, 66.92},    // Kazakhstan
	{"LA", "AS", 19.86, 102.50},   // Laos
	{"LB", "AS", 33.85, 35.86},    // Lebanon
	{"LC", "NA", 13.91, -60.98},   // Saint Lucia
	{"LI", "EU", 47.17, 9.56},     // Liechtenstein
	{"LK", "AS", 7.87, 80.77},     // Sri Lanka
	{"LR", "AF", 6.43, -9.43},     // Liberia
	{"LS", "AF", -29.61, 28.23},   // Lesotho
	{"LT", "EU", 55.17, 23.88},    // Lithuania
	{"LU", "EU", 49.82, 6.13},     // Luxembourg
	{"LV", "EU", 56.88, 24.60},    // Latvia
	{"LY", "AF", 26.34, 17.23},    // Libya
	{"MA", "AF", 31.79, -7.09},    // Morocco
	{"MC", "EU", 43.75, 7.41},     // Monaco
	{"MD", "EU", 47.41, 28.37},    // Moldova
	{"ME", "EU", 42.71, 19.37},    // Montenegro
	{"MF", "NA", 18.08, -63.05},   // Saint Martin
	{"MG", "AF", -18.77, 46.87},   // Madagascar
	{"MH", "OC", 7.13, 171.18},    // Marshall Islands
	{"MK", "EU", 41.61, 21.75},    // North Macedonia
	{"ML", "AF", 17.57, -4.00},    // Mali
	{"MM", "AS", 21.91, 95.96},    // Myanmar
	{"MN", "AS", 46.86, 103.85},   // Mongolia
	{"MO", "AS", 22.20, 113.54},   // Macao
	{"MP", "OC", 17.33, 145.38},   // Northern Mariana Islands
	{"MQ", "NA", 14.64, -61.02},   // Martinique
	{"MR", "AF", 21.01, -10.94},   // Mauritania
	{"MS", "NA", 16.74, -62.19},   // Montserrat
	{"MT", "EU", 35.94, 14.38},    // Malta
	{"MU", "AF", -20.35, 57.55},   // Mauritius
	{"MV", "AS", 3.20, 73.22},     // Maldives
	{"MW", "AF", -13.25, 34.30},   // Malawi
	{"MX", "NA", 23.63, -102.55},  // Mexico
	{"MY", "AS", 4.21, 101.98},    // Malaysia
	{"MZ", "AF", -18.67, 35.53},   // Mozambique
	{"NA", "AF", -22.96, 18.49},   // Namibia
	{"NC", "OC", -20.90, 165.62},  // New Caledonia
	{"NE", "AF", 17.61, 8.08},     // Niger
	{"NF", "OC", -29.04, 167.95},  // Norfolk Island
	{"NG", "AF", 9.08, 8.68},      // Nigeria
	{"NI", "NA", 12.87, -85.21},   // Nicaragua
	{"NL", "EU", 52.13, 5.29},     // Netherlands
	{"NO", "EU", 60.47, 8.47},     // Norway
	{"NP", "AS", 28.39, 84.12},    // Nepal
	{"NR", "OC", -0.52, 166.93},   // Nauru
	{"NU", "OC", -19.05, -169.87}, // Niue
	{"NZ", "OC", -40.90, 174.89},  // New Zealand
	{"OM", "AS", 21.51, 55.92},    // Oman
	{"PA", "NA", 8.54, -80.78},    // Panama
	{"PE", "SA", -9.19, -75.02},   // Peru
	{"PF", "OC", -17.68, -149.41}, // French Polynesia
	{"PG", "OC", -6.31, 143.96},   // Papua New Guinea
	{"PH", "AS", 12.88, 121.77},   // Philippines
	{"PK", "AS", 30.38, 69.35},    // Pakistan
	{"PL", "EU", 51.92, 19.15},    // Poland
	{"PM", "NA", 46.94, -56.27},   // Saint Pierre and Miquelon
	{"PN", "OC", -24.70, -127.44}, // Pitcairn
	{"PR", "NA", 18.22, -66.59},   // Puerto Rico
	{"PS", "AS", 31.95, 35.23},    // Palestine
	{"PT", "EU", 39.40, -8.22},    // Portugal
	{"PW", "OC", 7.51, 134.58},    // Palau
	{"PY", "SA", -23.44, -58.44},  // Paraguay
	{"QA", "AS", 25.35, 51.18},    // Qatar
	{"RE", "AF", -21.12, 55.54},   // Reunion
	{"RO", "EU", 45.94, 24.97},    // Romania
	{"RS", "EU", 44.02, 21.01},    // Serbia
	{"RU", "EU", 55.00, 45.00},    // Russia (population-weighted)
	{"RW", "AF", -1.94, 29.87},    // Rwanda
	{"SA", "AS", 23.89, 45.08},    // Saudi Arabia
	{"SB", "OC", -9.65, 160.16},   // Solomon Islands
	{"SC", "AF", -4.68, 55.49},    // Seychelles
	{"SD", "AF", 12.86, 30.22},    // Sudan
	{"SE", "EU", 60.13, 18.64},    // Sweden
	{"SG", "AS", 1.35, 103.82},    // Singapore
	{"SH", "AF", -24.14, -10.03},  // Saint Helena
	{"SI", "EU", 46.15, 15.00},    // Slovenia
	{"SJ", "EU", 77.55, 23.67},    // Svalbard and Jan Mayen
	{"SK", "EU", 48.67, 19.70},    // Slovakia
	{"SL", "AF", 8.46, -11.78},    // Sierra Leone
	{"SM", "EU", 43.94, 12.46},    // San Marino
	{"SN", "AF", 14.50, -14.45},   // Senegal
	{"SO", "AF", 5.15, 46.20},     // Somalia
	{"SR", "SA", 3.92, -56.03},    // Suriname
	{"SS", "AF", 6.88, 31.31},     // South Sudan
	{"ST", "AF", 0.19, 6.61},      // Sao Tome and Principe
	{"SV", "NA", 13.79, -88.90},   // El Salvador
	{"SX", "NA", 18.04, -63.07},   // Sint Maarten
	{"SY", "AS", 34.80, 39.00},    // Syria
	{"SZ", "AF", -26.52, 31.47},   // Eswatini
	{"TC", "NA", 21.69, -71.80},   // Turks and Caicos Islands
	{"TD", "AF", 15.45, 18.73},    // Chad
	{"TF", "AN", -49.28, 69.35},   // French Southern Territories
	{"TG", "AF", 8.62, 0.82},      // Togo
	{"TH", "AS", 15.87, 100.99},   // Thailand
	{"TJ", "AS", 38.86, 71.28},    // Tajikistan
	{"TK", "OC", -8.97, -171.86},  // Tokelau
	{"TL", "OC", -8.87, 125.73},   // Timor-Leste
	{"TM", "AS", 38.97, 59.56},    // Turkmenistan
	{"TN", "AF", 33.89, 9.54},     // Tunisia
	{"TO", "OC", -21.18, -175.20}, // Tonga
	{"TR", "AS", 38.96, 35.24},    // Turkey
	{"TT", "NA", 10.69, -61.22},   // Trinidad and Tobago
	{"TV", "OC", -7.11, 177.65},   // Tuvalu
	{"TW", "AS", 23.70, 120.96},   // Taiwan
	{"TZ", "AF", -6.37, 34.89},    // Tanzania
	{"UA", "EU", 48.38, 31.17},    // Ukraine
	{"UG", "AF", 1.37, 32.29},     // Uganda
	{"UM", "OC", 19.28, 166.65},   // United States Minor Outlying Islands
	{"US", "NA", 37.42, -92.18},   // United States (population-weighted)
	{"UY", "SA", -32.52, -55.77},  // Uruguay
	{"UZ", "AS", 41.38, 64.59},    // Uzbekistan
	{"VA", "EU", 41.90, 12.45},    // Holy See
	{"VC", "NA", 12.98, -61.29},   // Saint Vincent and the Grenadines
	{"VE", "SA", 6.42, -66.59},    // Venezuela
	{"VG", "NA", 18.42, -64.64},   // British Virgin Islands
	{"VI", "NA", 18.34, -64.90},   // U.S. Virgin Islands
	{"VN", "AS", 14.06, 108.28},   // Vietnam
	{"VU", "OC", -15.38, 166.96},  // Vanuatu
	{"WF", "OC", -13.77, -177.16}, // Wallis and Futuna
	{"WS", "OC", -13.76, -172.10}, // Samoa
	{"XK", "EU", 42.60, 20.90},    // Kosovo
	{"YE", "AS", 15.55, 48.52},    // Yemen
	{"YT", "AF", -12.83, 45.17},   // Mayotte
	{"ZA", "AF", -30.56, 22.94},   // South Africa
	{"ZM", "AF", -13.13, 27.85},   // Zambia
	{"ZW", "AF", -19.02, 29.15},   // Zimbabwe
}
