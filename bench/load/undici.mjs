// What loading undici costs: the import, and the dispatcher the action builds.
import { EnvHttpProxyAgent } from 'undici';

await new EnvHttpProxyAgent().close();
