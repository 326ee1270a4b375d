"""The subset of Shopify's GraphQL Admin API schema that the sandbox serves.

Type, field, argument and enum names follow Shopify's Admin API (2026-10) so that a client
written against the real API validates unchanged. Only what the Foresight pipeline and its
tests need is declared; everything else is absent, so asking for it is a validation error,
exactly as asking for a field the app has no scope for is on Shopify.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema

# Shopify serialises every amount in these currencies; the store uses one of them.
_CURRENCIES = (
    "AED AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR ISK JPY KRW MXN MYR NOK NZD "
    "PHP PLN RON SEK SGD THB TRY TWD USD ZAR"
)

# Connection arguments shared by every paginated field (Shopify declares them on each one).
_PAGE_ARGS = "first: Int, after: String, last: Int, before: String, reverse: Boolean = false"

SDL = f"""
schema {{ query: QueryRoot mutation: Mutation }}

"An ISO-8601 encoded UTC date time string, e.g. 2024-03-01T14:05:00Z."
scalar DateTime
"A signed decimal number serialised as a string, e.g. 29.99."
scalar Decimal
"A monetary value string without currency, e.g. 29.99."
scalar Money
"An unsigned 64-bit integer serialised as a string."
scalar UnsignedInt64
"An RFC 3986 URL string."
scalar URL

enum CurrencyCode {{ {_CURRENCIES} }}

type QueryRoot {{
  shop: Shop!
  customer(id: ID!): Customer
  customers({_PAGE_ARGS}, sortKey: CustomerSortKeys = ID, query: String): CustomerConnection!
  order(id: ID!): Order
  orders({_PAGE_ARGS}, sortKey: OrderSortKeys = PROCESSED_AT, query: String): OrderConnection!
  product(id: ID!): Product
  products({_PAGE_ARGS}, sortKey: ProductSortKeys = ID, query: String): ProductConnection!
  abandonedCheckouts(
    {_PAGE_ARGS}, sortKey: AbandonedCheckoutSortKeys = ID, query: String
  ): AbandonedCheckoutConnection!
  bulkOperation(id: ID!): BulkOperation
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
    @deprecated(reason: "Use `bulkOperations` with status filter instead.")
}}

type Mutation {{
  bulkOperationRunQuery(
    query: String!, groupObjects: Boolean! = false
  ): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}}

type Shop {{
  id: ID!
  name: String!
  myshopifyDomain: String!
  ianaTimezone: String!
  currencyCode: CurrencyCode!
}}

type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

type MoneyV2 {{ amount: Decimal! currencyCode: CurrencyCode! }}
type MoneyBag {{ shopMoney: MoneyV2! presentmentMoney: MoneyV2! }}

enum CustomerSortKeys {{ CREATED_AT ID NAME RELEVANCE UPDATED_AT }}
enum CustomerEmailMarketingState {{
  INVALID NOT_SUBSCRIBED PENDING REDACTED SUBSCRIBED UNSUBSCRIBED
}}
enum CustomerEmailAddressMarketingState {{ INVALID NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED }}
enum CustomerMarketingOptInLevel {{ CONFIRMED_OPT_IN SINGLE_OPT_IN UNKNOWN }}

type CustomerEmailMarketingConsentState {{
  marketingState: CustomerEmailMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
}}

type CustomerEmailAddress {{
  emailAddress: String!
  marketingState: CustomerEmailAddressMarketingState!
}}

type Customer {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  firstName: String
  lastName: String
  displayName: String!
  phone: String
  createdAt: DateTime!
  updatedAt: DateTime!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  tags: [String!]!
  emailMarketingConsent: CustomerEmailMarketingConsentState
  defaultEmailAddress: CustomerEmailAddress
}}

type CustomerEdge {{ cursor: String! node: Customer! }}
type CustomerConnection {{ edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }}

enum OrderSortKeys {{ CREATED_AT ID ORDER_NUMBER PROCESSED_AT RELEVANCE TOTAL_PRICE UPDATED_AT }}
enum OrderDisplayFinancialStatus {{
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}}

type Order {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  test: Boolean!
  currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  discountCodes: [String!]!
  customer: Customer
  subtotalPriceSet: MoneyBag
  totalPriceSet: MoneyBag!
  totalDiscountsSet: MoneyBag
  totalRefundedSet: MoneyBag!
  lineItems({_PAGE_ARGS}): LineItemConnection!
}}

type OrderEdge {{ cursor: String! node: Order! }}
type OrderConnection {{ edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }}

type LineItem {{
  id: ID!
  title: String!
  name: String!
  sku: String
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  product: Product
  variant: ProductVariant
}}

type LineItemEdge {{ cursor: String! node: LineItem! }}
type LineItemConnection {{ edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }}

enum ProductSortKeys {{ CREATED_AT ID PRODUCT_TYPE RELEVANCE TITLE UPDATED_AT VENDOR }}
enum ProductVariantSortKeys {{ ID POSITION RELEVANCE SKU }}

type Product {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  productType: String!
  vendor: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  variants({_PAGE_ARGS}, sortKey: ProductVariantSortKeys = POSITION): ProductVariantConnection!
}}

type ProductEdge {{ cursor: String! node: Product! }}
type ProductConnection {{ edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }}

type ProductVariant {{
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  price: Money!
  product: Product!
}}

type ProductVariantEdge {{ cursor: String! node: ProductVariant! }}
type ProductVariantConnection {{
  edges: [ProductVariantEdge!]!
  nodes: [ProductVariant!]!
  pageInfo: PageInfo!
}}

enum AbandonedCheckoutSortKeys {{ CHECKOUT_ID CREATED_AT ID RELEVANCE TOTAL_PRICE }}

type AbandonedCheckout {{
  id: ID!
  createdAt: DateTime!
  updatedAt: DateTime!
  completedAt: DateTime
  customer: Customer
  totalPriceSet: MoneyBag!
  lineItems({_PAGE_ARGS}): AbandonedCheckoutLineItemConnection!
}}

type AbandonedCheckoutEdge {{ cursor: String! node: AbandonedCheckout! }}
type AbandonedCheckoutConnection {{
  edges: [AbandonedCheckoutEdge!]!
  nodes: [AbandonedCheckout!]!
  pageInfo: PageInfo!
}}

type AbandonedCheckoutLineItem {{
  id: ID!
  title: String
  sku: String
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  product: Product
  variant: ProductVariant
}}

type AbandonedCheckoutLineItemEdge {{ cursor: String! node: AbandonedCheckoutLineItem! }}
type AbandonedCheckoutLineItemConnection {{
  edges: [AbandonedCheckoutLineItemEdge!]!
  nodes: [AbandonedCheckoutLineItem!]!
  pageInfo: PageInfo!
}}

enum BulkOperationStatus {{ CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }}
enum BulkOperationErrorCode {{ ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }}
enum BulkOperationType {{ MUTATION QUERY }}
enum BulkOperationUserErrorCode {{ INVALID LIMIT_REACHED OPERATION_IN_PROGRESS }}

type BulkOperation {{
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
  type: BulkOperationType!
}}

type BulkOperationUserError {{ field: [String!] message: String! code: BulkOperationUserErrorCode }}
type UserError {{ field: [String!] message: String! }}

type BulkOperationRunQueryPayload {{
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}}

type BulkOperationCancelPayload {{ bulkOperation: BulkOperation userErrors: [UserError!]! }}
"""


def shopify_schema() -> GraphQLSchema:
    """A fresh schema without resolvers (`shopify_resolvers` wires and caches one)."""
    return build_schema(SDL)
