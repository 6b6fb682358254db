import * as config from "encore.dev/config";
import { secret as s } from "encore.dev/config";

const sessionKey = config.secret("SessionKey"); // signs session cookies
const github = s("GitHubAPIToken");
