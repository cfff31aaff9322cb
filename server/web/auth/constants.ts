/** Set by the web server from the socket address (or a trusted proxy); clients cannot supply it. */
export const CLIENT_IP_HEADER = "x-steward-client-ip";
