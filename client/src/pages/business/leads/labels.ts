import type { MessageKey } from '../../../i18n';

/** The message key of a lead source (kept out of the page modules: importing a page from another
 *  page puts the whole page in the other's first load). */
export const sourceLabel = (source: string): MessageKey => `leads.source.${source}` as MessageKey;
