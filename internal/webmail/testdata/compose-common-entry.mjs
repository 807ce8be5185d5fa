// The DOM-free parts of the compose and filter modules, for Node.
export { parseAddresses, formatAddress, formatAddresses, validEmail, suggest } from "../assets/compose-common.js";
export { sieveErrorParts } from "../assets/filters.js";
