import type { CountryStateDto, CurrencyDto, OrganizationDto, UserDto } from '../upstream/dto.js';
import { COUNTRIES } from './catalogue.js';

/**
 * The three organizations and the one user of the simulated world. acme is big enough to
 * trip `large_set`, globex is small enough to page through by hand, initech is suspended.
 */

const GBP: CurrencyDto = { id: 'cur_wjJJibaZUPgHV7iB', name: 'British Pound', iso_code: 'GBP', symbol: '£' };
const USD: CurrencyDto = { id: 'cur_3m03nbqnsGpWLuqI', name: 'US Dollar', iso_code: 'USD', symbol: '$' };

const [UK, , US] = COUNTRIES;
if (!UK || !US) throw new Error('catalogue countries changed');

const CALIFORNIA: CountryStateDto = { id: 'ctrst_A1id6Vw5DQL05HA0', name: 'California', code: 'CA', country: US };

export const ACME: OrganizationDto = {
  id: 'org_wZPf1Qh6yYTWmE4l',
  name: 'Acme Corporation',
  sub_domain: 'acme',
  infrastructure_domain: 'acme.katapult.cloud',
  created_at: 1614589200,
  activated_at: 1614592800,
  suspended: false,
  managed: false,
  billing_name: 'Acme Corporation Ltd',
  address1: '1 Canal Street',
  address2: 'Ancoats',
  address3: null,
  address4: 'Manchester',
  postcode: 'M1 3HE',
  vat_number: 'GB123456789',
  phone_number: '+44 161 555 0100',
  currency: GBP,
  country: UK,
  country_state: null,
};

export const GLOBEX: OrganizationDto = {
  id: 'org_BYOvfZ8UzDzV8fUk',
  name: 'Globex Corporation',
  sub_domain: 'globex',
  infrastructure_domain: 'globex.katapult.cloud',
  created_at: 1651406400,
  activated_at: 1651410000,
  suspended: false,
  managed: false,
  billing_name: null,
  address1: '4200 Cypress Creek Road',
  address2: null,
  address3: null,
  address4: 'Cypress Creek',
  postcode: '90210',
  vat_number: null,
  phone_number: null,
  currency: USD,
  country: US,
  country_state: CALIFORNIA,
};

export const INITECH: OrganizationDto = {
  id: 'org_kibjL5DZPjN0MEQ7',
  name: 'Initech',
  sub_domain: 'initech',
  infrastructure_domain: 'initech.katapult.cloud',
  created_at: 1583020800,
  activated_at: 1583024400,
  suspended: true,
  managed: true,
  billing_name: null,
  address1: null,
  address2: null,
  address3: null,
  address4: null,
  postcode: null,
  vat_number: null,
  phone_number: null,
  currency: USD,
  country: null,
  country_state: null,
};

export const ORGANIZATIONS: readonly OrganizationDto[] = [ACME, GLOBEX, INITECH];

/** The user behind the user-level demo token: a member of acme and globex. */
export const USER: UserDto = {
  id: 'user_64GiIjHGb3CXlMaX',
  first_name: 'Jane',
  last_name: 'Marsh',
  avatar_url: 'https://www.gravatar.com/avatar/5f0e6a3c1b2d4e8f9a7b6c5d4e3f2a1b?s=128&d=mp',
};

export const USER_ORGANIZATION_IDS: readonly string[] = [ACME.id, GLOBEX.id];
