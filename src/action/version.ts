/** The action's name and version, as a User-Agent names it (Snowflake asks for name/version). */
export const USER_AGENT = 'immuta-deregister-host/1.0.0';
